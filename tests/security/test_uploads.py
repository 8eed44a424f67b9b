"""Uploads at the edges (reliability plan W8): oversized bodies, hostile names, many files.

The content checks (type by content, empty, truncated, executables named .pdf, 10 MB + 1 byte)
are in tests/applicants/test_services.py and test_apis.py; these are the request-level ones.
"""

import socket

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse

from applicants.models import Document
from tests.factories import pdf_bytes

pytestmark = pytest.mark.django_db


def _upload_url(draft) -> str:
    """The wizard's documents step, where the upload form posts."""
    return reverse("applicants:application_step", args=[draft.pk, "documents"])


def test_a_body_over_the_limit_is_refused_before_it_is_read(client, applicant, draft, settings):
    client.force_login(applicant)
    declared = str(1024**3)  # "1 GB": the body is never read, so none needs to be sent
    page = client.post(
        _upload_url(draft),
        data=b"",
        content_type="multipart/form-data; boundary=x",
        CONTENT_LENGTH=declared,
    )
    assert page.status_code == 413 and "larger than 11.0" in page.content.decode()
    api = client.post(
        f"/api/v1/applications/{draft.pk}/documents/",
        data=b"",
        content_type="multipart/form-data; boundary=x",
        CONTENT_LENGTH=declared,
    )
    assert api.status_code == 413 and api.json()["error"]["code"] == "request_too_large"
    assert not Document.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_a_real_gigabyte_upload_is_cut_short(live_server, applicant, draft):
    """Over a socket: the server answers 413 after the headers and 64 KB of body, and closes;
    the client never gets to send the rest of its 1 GB."""
    client = Client()
    client.force_login(applicant)
    cookie = client.cookies["sessionid"].value
    host, port = live_server.url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        sock.sendall(
            (
                f"POST {_upload_url(draft)} HTTP/1.1\r\nHost: {host}\r\n"
                f"Cookie: sessionid={cookie}\r\n"
                "Content-Type: multipart/form-data; boundary=x\r\n"
                f"Content-Length: {1024**3}\r\nConnection: close\r\n\r\n"
            ).encode()
        )
        sent = 0
        answer = b""
        try:
            while sent < 1024**3 and b"\r\n\r\n" not in answer:
                sock.sendall(b"0" * 65536)
                sent += 65536
                sock.settimeout(0.05)
                try:
                    answer += sock.recv(4096)
                except TimeoutError:
                    pass
        except (BrokenPipeError, ConnectionResetError):
            pass
        sock.settimeout(5)
        try:
            while chunk := sock.recv(4096):
                answer += chunk
        except (ConnectionResetError, TimeoutError):
            pass
    print(f"\nW8 1 GB upload: answered {answer[:12].decode()} after {sent:,} bytes sent")
    assert answer.startswith(b"HTTP/1.1 413"), answer[:200]
    assert sent < 64 * 1024 * 1024  # cut short long before the gigabyte
    assert not Document.objects.exists()


@pytest.mark.parametrize(
    "name",
    [
        "../../../etc/licence.pdf",
        "..\\..\\windows\\licence.pdf",
        "licence\u202efdp.exe.pdf",  # right-to-left override
        "a" * 300 + ".pdf",
        "licence\x00.pdf",
    ],
)
def test_hostile_file_names_are_stored_under_names_of_our_own(client, applicant, draft, name):
    client.force_login(applicant)
    response = client.post(
        _upload_url(draft),
        {"kind": "business_licence", "upload": "1", "file": SimpleUploadedFile(name, pdf_bytes())},
    )
    assert response.status_code in (200, 302, 400)
    for document in Document.objects.all():
        stored = document.file.name
        assert stored.startswith(f"documents/{draft.pk}/") and ".." not in stored
        assert "/" not in document.original_name and "\\" not in document.original_name
        assert len(document.original_name) <= 200 and "\x00" not in document.original_name


def test_a_hundred_and_one_files_in_one_request_store_at_most_one(client, applicant, draft):
    client.force_login(applicant)
    files = [SimpleUploadedFile(f"licence-{n}.pdf", pdf_bytes()) for n in range(101)]
    response = client.post(
        _upload_url(draft), {"kind": "business_licence", "upload": "1", "file": files}
    )
    assert response.status_code in (200, 302, 400)
    assert Document.objects.count() <= 1
