"""nnarch: builds lecture slides from topic modules whose models it trains, measures and draws."""

from pathlib import Path

__version__ = "0.1.0"

TEMPLATES = Path(__file__).resolve().parent.parent / "templates"  # Jinja2 templates of every document
