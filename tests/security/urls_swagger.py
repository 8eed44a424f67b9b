"""The project's URLs with the API docs served as SpectacularSwaggerSplitView (a script file)."""

from django.urls import path
from drf_spectacular.views import SpectacularSwaggerSplitView

from config.urls import handler400, handler403, handler404, handler500, urlpatterns

urlpatterns = [
    path("api/docs/", SpectacularSwaggerSplitView.as_view(url_name="api-schema"), name="api-docs"),
    *[p for p in urlpatterns if getattr(p, "name", None) != "api-docs"],
]
__all__ = ["handler400", "handler403", "handler404", "handler500", "urlpatterns"]
