from django.contrib import admin
from django.urls import include, path
from django.views.generic import TemplateView
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from core import views as core_views

admin.site.site_header = "Compute Vouchers administration"
admin.site.site_title = "Compute Vouchers admin"

urlpatterns = [
    path("", core_views.home, name="home"),
    path("accounts/", include("accounts.urls")),
    path("programs/", include("vouchers.urls")),
    path("portal/", include("applicants.urls")),
    path("officer/", include("vouchers.officer_urls")),
    path("provider/", include("disbursement.provider_urls")),
    path("finance/", include("disbursement.finance_urls")),
    path("reconciliation/", include("disbursement.reconciliation_urls")),
    path("reports/", include("reports.urls")),
    path("audit/", include("audit.urls")),
    path("admin/", admin.site.urls),
    path("api/v1/", include(("config.api_urls", "api"), namespace="api")),
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    # The split view serves its script as a file: no inline script under the CSP.
    path("api/docs/", SpectacularSwaggerSplitView.as_view(url_name="api-schema"), name="api-docs"),
    path("healthz", core_views.healthz, name="healthz"),
    path("about/", TemplateView.as_view(template_name="core/about.html"), name="about"),
]

handler400 = "core.views.bad_request"
handler403 = "core.views.permission_denied"
handler404 = "core.views.page_not_found"
handler500 = "core.views.server_error"
