"""nnarch: builds lecture slides from topic modules whose models it trains, measures and draws."""

__version__ = "0.1.0"
