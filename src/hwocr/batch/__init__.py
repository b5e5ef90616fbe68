"""``hwocr batch``: read archives of pages (folders, globs, PDFs, multi-page TIFFs, manifests) on a
Dask cluster (a local one bound to 127.0.0.1, or an existing one) or, without ``hwocr[cluster]``,
in local processes; resumable and exactly-once (see :mod:`hwocr.batch.store`)."""
