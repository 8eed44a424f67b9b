from typing import Any

from django.utils.translation import gettext as _
from rest_framework import serializers


class StrictInputSerializer(serializers.Serializer):
    """An input serializer that refuses fields it does not know instead of ignoring them.

    A client that sends `status` or `committed` learns at once that it cannot set them.
    """

    def to_internal_value(self, data: Any) -> Any:
        if not isinstance(data, dict) and not hasattr(data, "keys"):
            raise serializers.ValidationError(
                {"non_field_errors": [_("Send a JSON object.")]}, code="invalid"
            )
        unknown = sorted(set(data.keys()) - set(self.fields))
        if unknown:
            raise serializers.ValidationError(
                {name: [_("This field is not accepted here.")] for name in unknown},
                code="unknown_field",
            )
        return super().to_internal_value(data)
