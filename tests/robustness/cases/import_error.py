import not_a_real_package  # noqa: F401
