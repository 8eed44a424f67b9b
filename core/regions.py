"""Regions (ISO 3166-2:CN province-level divisions) used by programs and organizations."""

from django.utils.translation import gettext_lazy as _

REGIONS = [
    ("CN-BJ", _("Beijing")),
    ("CN-TJ", _("Tianjin")),
    ("CN-HE", _("Hebei")),
    ("CN-SX", _("Shanxi")),
    ("CN-NM", _("Inner Mongolia")),
    ("CN-LN", _("Liaoning")),
    ("CN-JL", _("Jilin")),
    ("CN-HL", _("Heilongjiang")),
    ("CN-SH", _("Shanghai")),
    ("CN-JS", _("Jiangsu")),
    ("CN-ZJ", _("Zhejiang")),
    ("CN-AH", _("Anhui")),
    ("CN-FJ", _("Fujian")),
    ("CN-JX", _("Jiangxi")),
    ("CN-SD", _("Shandong")),
    ("CN-HA", _("Henan")),
    ("CN-HB", _("Hubei")),
    ("CN-HN", _("Hunan")),
    ("CN-GD", _("Guangdong")),
    ("CN-GX", _("Guangxi")),
    ("CN-HI", _("Hainan")),
    ("CN-CQ", _("Chongqing")),
    ("CN-SC", _("Sichuan")),
    ("CN-GZ", _("Guizhou")),
    ("CN-YN", _("Yunnan")),
    ("CN-XZ", _("Tibet")),
    ("CN-SN", _("Shaanxi")),
    ("CN-GS", _("Gansu")),
    ("CN-QH", _("Qinghai")),
    ("CN-NX", _("Ningxia")),
    ("CN-XJ", _("Xinjiang")),
    ("CN-HK", _("Hong Kong")),
    ("CN-MO", _("Macao")),
    ("OTHER", _("Other countries and regions")),
]
REGION_CODES = frozenset(code for code, _label in REGIONS)


def region_label(code: str) -> str:
    return str(dict(REGIONS).get(code, code))
