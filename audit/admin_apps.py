from django.contrib.admin.apps import AdminConfig


class AuditedAdminConfig(AdminConfig):
    """django.contrib.admin with an audited default site (audit/admin_site.py). Kept out of
    audit/apps.py, where a second AppConfig would make Django's choice of config ambiguous."""

    default_site = "audit.admin_site.AuditedAdminSite"
