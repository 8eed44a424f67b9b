"""The Chinese catalogue is complete, compiled, and used by pages and emails."""

import ast
import gettext
import re
from pathlib import Path

import pytest
from django.urls import reverse
from django.utils import translation

ROOT = Path(__file__).resolve().parents[2]
PO = ROOT / "locale" / "zh_Hans" / "LC_MESSAGES" / "django.po"
MO = PO.with_suffix(".mo")


def _po_entries() -> list[dict]:
    """A small .po reader: msgid, msgid_plural, msgstr / msgstr[n], flags."""
    entries, current, key = [], None, None
    for line in PO.read_text(encoding="utf-8").splitlines() + [""]:
        if not line.strip():
            if current and "msgid" in current:
                entries.append(current)
            current, key = None, None
            continue
        current = current or {"flags": set()}
        if line.startswith("#,"):
            current["flags"] |= {f.strip() for f in line[2:].split(",")}
        elif line.startswith("#"):
            continue
        elif line.startswith('"'):
            current[key] += ast.literal_eval(line)
        else:
            key, _, value = line.partition(" ")
            current[key] = ast.literal_eval(value)
    return [e for e in entries if e["msgid"]]


def test_every_message_is_translated_and_not_fuzzy():
    entries = _po_entries()
    assert len(entries) > 500
    untranslated = [e["msgid"] for e in entries if not (e.get("msgstr") or e.get("msgstr[0]"))]
    fuzzy = [e["msgid"] for e in entries if "fuzzy" in e["flags"]]
    assert untranslated == [] and fuzzy == []


def test_placeholders_survive_translation():
    pattern = re.compile(r"%\(\w+\)[sd]|%[sd]")
    for e in _po_entries():
        translated = e.get("msgstr") or e.get("msgstr[0]")
        assert sorted(pattern.findall(e["msgid"])) == sorted(pattern.findall(translated)), e[
            "msgid"
        ]


def test_compiled_catalogue_matches_the_source():
    with MO.open("rb") as handle:
        catalogue = gettext.GNUTranslations(handle)
    for e in _po_entries():
        if "msgid_plural" in e:
            continue
        compiled = (
            catalogue.pgettext(e["msgctxt"], e["msgid"])
            if "msgctxt" in e
            else catalogue.gettext(e["msgid"])
        )
        assert compiled == e["msgstr"], f"re-run compilemessages: {e['msgid']!r}"


@pytest.mark.django_db
def test_pages_render_in_chinese(client, program):
    client.cookies["django_language"] = "zh-hans"
    for url in (
        "/",
        reverse("vouchers:program_list"),
        reverse("accounts:signup"),
        reverse("accounts:login"),
    ):
        html = client.get(url).content.decode()
        assert '<html lang="zh-hans">' in html
        assert "算力券" in html, url


@pytest.mark.django_db
def test_error_messages_are_translated(client, applicant, draft):
    applicant.preferred_language = "zh-hans"
    applicant.save()
    client.force_login(applicant)
    response = client.post(
        reverse("applicants:application_step", args=[draft.pk, "funding"]),
        {"requested_amount_cents": "1e5"},
    )
    assert "科学计数法" in response.content.decode()
    with translation.override("zh-hans"):
        from core.money import MoneyError, parse_cents

        with pytest.raises(MoneyError) as exc:
            parse_cents("-5")
    assert re.search(r"[\u4e00-\u9fff]", exc.value.message)
