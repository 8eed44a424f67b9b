from django.contrib import admin

from disbursement.models import Provider


@admin.register(Provider)
class ProviderAdmin(admin.ModelAdmin):
    list_display = ["short_name", "legal_name", "registration_number", "region", "is_active"]
    list_filter = ["is_active", "region"]
    search_fields = ["short_name", "legal_name", "registration_number"]
