"""The live display's service (issue 6): a sink keeping the picture (:class:`PictureStore`), the FastAPI app
(:func:`create_app`), token access control (:class:`Tokens`) and a uvicorn server in a background thread
(:class:`WebServer`). docs/live.md is the API contract, docs/web.md describes the service.

FastAPI and uvicorn are imported only when a service is built, so headless runs do not pay for them."""

from .store import PictureStore

__all__ = ["PictureStore"]
