"""Whole pages: detection (``detect``) -> lines in reading order (``layout``) -> recognition
(``document``), page sources (``inputs``: images, multi-page TIFF, PDF) and outputs (``export``,
``pdfwrite``)."""
