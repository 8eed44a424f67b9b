"""The OpenAPI schema is complete, and the API answers fuzzed input without a 5xx."""

import pytest
from drf_spectacular.generators import SchemaGenerator

pytestmark = pytest.mark.django_db


def test_schema_generates_without_warnings(capsys):
    schema = SchemaGenerator().get_schema(request=None, public=True)
    paths = schema["paths"]
    for path in (
        "/api/v1/applications/",
        "/api/v1/applications/{application_id}/submit/",
        "/api/v1/organizations/",
        "/api/v1/programs/",
        "/api/v1/auth/token/",
    ):
        assert path in paths, path
    assert "tokenAuth" in schema["components"]["securitySchemes"]
    err = capsys.readouterr().err
    assert "Warning" not in err and "Error" not in err, err


def test_schema_and_docs_are_served(client):
    assert client.get("/api/schema/").status_code == 200
    docs = client.get("/api/docs/")
    assert docs.status_code == 200
    assert b"cdn" not in docs.content.lower()  # Swagger UI is served locally (closed networks)


def test_unknown_api_path_is_json_404(client):
    response = client.get("/api/v1/no-such-thing/")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"


def test_schema_documents_the_error_responses_of_every_operation():
    """core.api.schema.AutoSchema: each operation lists the errors it can give, with the one
    error body ({"error": {"code", "message", "fields"}}); tests/core/test_api_fuzz.py checks
    the real answers against them, role by role."""
    schema = SchemaGenerator().get_schema(request=None, public=True)
    error_ref = {"$ref": "#/components/schemas/Error"}
    assert schema["components"]["schemas"]["Error"]["required"] == ["error"]
    body = schema["components"]["schemas"]["ErrorBody"]
    assert set(body["required"]) == {"code", "message"} and "fields" in body["properties"]
    for path, operations in schema["paths"].items():
        for method, operation in operations.items():
            responses = operation["responses"]
            where = f"{method.upper()} {path}"
            errors = {code: r for code, r in responses.items() if code >= "400" and code != "422"}
            assert "503" in errors and "Retry-After" in errors["503"]["headers"], where
            for code, response in errors.items():
                assert response["content"] == {"application/json": {"schema": error_ref}}, (
                    where,
                    code,
                )
            if operation.get("security"):
                assert {"401", "403"} <= set(errors), where
            if "{" in path:
                assert "404" in errors, where
            if method in ("post", "patch", "put", "delete"):
                assert {"400", "409"} <= set(errors), where
    register = schema["paths"]["/api/v1/auth/register/"]["post"]["responses"]
    assert "429" in register and "401" not in register  # throttled; no credentials to refuse
    verify = schema["paths"]["/api/v1/letters/verify/{reference}/"]["get"]["responses"]
    assert "401" not in verify and "403" not in verify  # public, and reads no credentials
