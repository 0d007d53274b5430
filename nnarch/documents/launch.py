"""Launch: links that open a built notebook in Colab, Binder or a JupyterHub (with nbgitpuller),
for a course that declares where its notebooks live (`Course.launch`), and the setup a hosted
kernel needs before a notebook's first cell: the packages it lacks, at the build's versions, and
nnarch_lab.py."""

from __future__ import annotations

from urllib.parse import quote, urlencode

from nnarch.documents.kit import CPU_INDEX, PINNED


def notebook_path(launch, slug: str, name: str) -> str:
    """The notebook's path in the repository."""
    return "/".join(p for p in (launch.folder.strip("/"), slug, "notebooks", name) if p)


def launch_links(launch, slug: str, name: str) -> list[tuple[str, str]]:
    """[(label, URL)] that open notebook `name` of lecture `slug`; none for a course without `launch`."""
    if launch is None:
        return []
    path = notebook_path(launch, slug, name)
    links = [
        ("Colab", f"https://colab.research.google.com/github/{launch.repo}/blob/{quote(launch.branch)}/{quote(path)}"),
        ("Binder", f"https://mybinder.org/v2/gh/{launch.repo}/{quote(launch.branch)}?{urlencode({'labpath': path})}"),
    ]
    if launch.jupyterhub:
        query = urlencode(
            {
                "repo": f"https://github.com/{launch.repo}",
                "branch": launch.branch,
                "urlpath": f"lab/tree/{launch.repo.split('/')[-1]}/{path}",
            }
        )
        links.append(("JupyterHub", f"{launch.jupyterhub.rstrip('/')}/hub/user-redirect/git-pull?{query}"))
    return links


def raw_url(launch, slug: str, name: str) -> str | None:
    """Where a hosted kernel downloads a file of the lecture's notebooks folder from."""
    if launch is None:
        return None
    path = quote(notebook_path(launch, slug, name))
    return f"https://raw.githubusercontent.com/{launch.repo}/{quote(launch.branch)}/{path}"


def setup_cell(pins: list[str], lab_url: str | None) -> str:
    """The first code cell of every notebook: on a hosted kernel (Colab, Binder, a JupyterHub, each
    known by its own environment, or NNARCH_HOSTED=1), pip-install the pinned packages whose module
    is missing (torch's CPU build, as in the kit), say which of the others have another version than
    the build's, and fetch nnarch_lab.py; elsewhere, nothing (the kit installed everything)."""
    wanted = {pin: PINNED[pin.split("==")[0]] for pin in pins if pin.split("==")[0] in PINNED}  # not Jupyter
    fetch = (
        f"        urllib.request.urlretrieve({lab_url!r}, 'nnarch_lab.py')"
        if lab_url
        else "        raise FileNotFoundError('upload nnarch_lab.py from the student zip beside this notebook')"
    )
    return f"""# Hosted (Colab, Binder, a JupyterHub, or NNARCH_HOSTED=1): install what this lab needs and the
# kernel lacks, at the versions that built the lecture; on your own machine, with the kit installed,
# this does nothing.
import importlib.metadata, importlib.util, os, pathlib, subprocess, sys, urllib.request

hosts = ("BINDER_LAUNCH_HOST", "BINDER_SERVICE_HOST", "JUPYTERHUB_API_URL", "COLAB_RELEASE_TAG")
hosted = "google.colab" in sys.modules or any(os.environ.get(name) for name in hosts)
if hosted or os.environ.get("NNARCH_HOSTED") == "1":
    wanted = {wanted!r}
    missing = [pin for pin, module in wanted.items() if importlib.util.find_spec(module) is None]
    if missing:  # torch's CPU build: the lab trains on the CPU, and a CUDA build is gigabytes
        index = ["--extra-index-url", {CPU_INDEX!r}]
        subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", *index, *missing], check=True)
    other = []
    for name, pinned in (pin.split("==") for pin in wanted if pin not in missing):
        try:  # a module installed without its metadata has no version to compare
            version = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            continue
        if version.split("+")[0] != pinned:
            other.append(f"{{name}} {{version}} (the lecture's: {{pinned}})")
    if other:
        print("Another version than the lecture's:", "; ".join(other), "- numbers can differ in their last digits")
    if not pathlib.Path("nnarch_lab.py").exists():
{fetch}"""
