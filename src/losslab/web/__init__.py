"""The browser face of losslab: ``losslab serve`` (FastAPI app in :mod:`losslab.web.app`).

Imported lazily by the CLI; nothing in the engine imports this package.
"""
