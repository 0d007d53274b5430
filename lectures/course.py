"""The course this lecture belongs to, and its five-day schedule (slots of one hour or less)."""

from nnarch.topic import Course

COURSE = Course(
    title="Python and AI/ML for Weather, Climate and Environmental Applications",
    days=("Day 1", "Day 2", "Day 3", "Day 4", "Day 5"),
    slots=(
        ("09:00–10:00", ("Opening by ECMWF DG, Start: Coding & Science in the Age of AI",
                         "Neural Network Architectures", "Diffusion and Graph Networks",
                         "MLOps Foundations", "Model Emulation, AIFS and AICON")),
        ("10:00–11:00", ("Lab: Python Startup: Basics", "Lab: Four Architectures in Practice",
                         "Lab: Graph Learning with PyTorch", "Lab: Containers and Reproducibility",
                         "Lab: Emulation Case Studies")),
        ("11:00–12:00", ("Python, Jupyter and APIs", "Large Language Models",
                         "Agents and Coding with LLMs", "CI/CD for Machine Learning",
                         "AI-based Data Assimilation")),
        ("12:00–12:45", ("Lab: Work environments, Python everywhere",
                         "Lab: Simple Transformer and LLM Use", "Lab: Agent Frameworks",
                         "Lab: CI/CD Pipelines", "Lab: Graph-based Assimilation")),
        ("12:45–13:30", ("Lunch Break", "Lunch Break", "Lunch Break", "Lunch Break", "Lunch Break")),
        ("13:30–14:30", ("Visualising Fields and Observations", "Retrieval-Augmented Generation (RAG)",
                         "DAWID System and Feature Detection", "Anemoi: AI-based Weather Modelling",
                         "AI and Physics")),
        ("14:30–15:30", ("Lab: GRIB, NetCDF and Obs Visualisation", "Lab: RAG Pipeline",
                         "Lab: DAWID Exploration", "Lab: Anemoi Training Pipeline",
                         "Lab: Physics-informed Neural Networks")),
        ("15:30–16:15", ("Introduction to AI and Machine Learning", "Multimodal Large Language Models",
                         "MLflow: Managing Experiments", "The AI Transformation",
                         "Learning from Observations Only")),
        ("16:15–17:00", ("Lab: Torch Tensors and First Neural Net", "Lab: Radar, SAT and Multimodal Data",
                         "Lab: MLflow Hands-on", "Lab: How work style could change",
                         "Lab: ORIGEN and Open Discussion")),
        ("17:00–20:00", ("", "", "", "", "Joint Dinner")),
    ),
)
