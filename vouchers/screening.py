"""Eligibility rules. Each rule looks at the submitted application, its organization's group
and the program's parameters, and says whether it passes, with what it used and what it found.

Pure reads: the screening service stores the outcomes. Affiliated organizations (a parent and
its subsidiaries) count as one, as the programs' rules require.
"""

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from django.db.models import Sum
from django.utils.translation import gettext as _

from applicants.models import Application, Organization
from core.money import format_money
from core.regions import region_label
from vouchers.models import Decision, Program, ScreeningRule


@dataclass(frozen=True)
class Outcome:
    rule: str
    passed: bool
    parameter: dict[str, Any] = field(default_factory=dict)
    observed: dict[str, Any] = field(default_factory=dict)


def organization_group(organization: Organization) -> list[Organization]:
    """The organization with its parent and the parent's other subsidiaries (one level)."""
    root = organization.parent or organization
    members = {root.pk: root, organization.pk: organization}
    for affiliate in Organization.objects.filter(parent_id=root.pk):
        members[affiliate.pk] = affiliate
    return list(members.values())


def _anniversary(day: date, years: int) -> date:
    try:
        return day.replace(year=day.year + years)
    except ValueError:  # 29 February in a year that has none
        return day.replace(year=day.year + years, day=28)


def rule_region(app: Application, program: Program, group: list[Organization], on: date) -> Outcome:
    allowed = list(program.allowed_regions or [])
    region = app.organization.region
    return Outcome(
        ScreeningRule.REGION,
        not allowed or region in allowed,
        {"allowed_regions": allowed},
        {"region": region},
    )


def rule_company_age(
    app: Application, program: Program, group: list[Organization], on: date
) -> Outcome:
    limit = program.max_company_age_years
    incorporated = app.organization.incorporated_on
    passed = limit is None or on < _anniversary(incorporated, limit)
    return Outcome(
        ScreeningRule.COMPANY_AGE,
        passed,
        {"max_company_age_years": limit},
        {"incorporated_on": incorporated.isoformat(), "checked_on": on.isoformat()},
    )


def rule_sme_size(
    app: Application, program: Program, group: list[Organization], on: date
) -> Outcome:
    headcount = sum(org.headcount for org in group)
    currencies = sorted({org.revenue_currency for org in group})
    revenue = sum(org.annual_revenue_cents for org in group)
    parameter = {
        "max_headcount": program.max_headcount,
        "max_annual_revenue_cents": program.max_annual_revenue_cents,
        "currency": program.currency,
    }
    observed: dict[str, Any] = {
        "group_size": len(group),
        "headcount": headcount,
        "annual_revenue_cents": revenue,
        "revenue_currencies": currencies,
    }
    passed = program.max_headcount is None or headcount <= program.max_headcount
    if program.max_annual_revenue_cents is not None:
        if currencies != [program.currency]:
            observed["currency_mismatch"] = True
            passed = False  # an officer must compare amounts in different currencies
        elif revenue > program.max_annual_revenue_cents:
            passed = False
    return Outcome(ScreeningRule.SME_SIZE, passed, parameter, observed)


def rule_credit_blacklist(
    app: Application, program: Program, group: list[Organization], on: date
) -> Outcome:
    listed = [org.registration_number for org in group if org.is_credit_blacklisted]
    return Outcome(ScreeningRule.CREDIT_BLACKLIST, not listed, {}, {"blacklisted": listed})


def rule_one_open_application(
    app: Application, program: Program, group: list[Organization], on: date
) -> Outcome:
    others = list(
        Application.objects.filter(
            program=program,
            organization__in=group,
            status__in=Application.OPEN - {Application.Status.DRAFT},
        )
        .exclude(pk=app.pk)
        .values_list("reference", flat=True)
    )
    return Outcome(
        ScreeningRule.ONE_OPEN_APPLICATION,
        not others,
        {"per": "organization group"},
        {"other_open_applications": others},
    )


def rule_prior_award(
    app: Application, program: Program, group: list[Organization], on: date
) -> Outcome:
    prior = (
        Decision.objects.filter(
            outcome=Decision.Outcome.APPROVED,
            application__program=program,
            application__organization__in=group,
        )
        .exclude(application=app)
        .aggregate(total=Sum("amount_cents"))["total"]
        or 0
    )
    requested = app.requested_amount_cents or 0
    headroom = max(program.award_ceiling_cents - prior, 0)
    passed = prior == 0 or requested <= headroom
    return Outcome(
        ScreeningRule.PRIOR_AWARD,
        passed,
        {"award_ceiling_cents": program.award_ceiling_cents},
        {"prior_awards_cents": prior, "requested_cents": requested, "headroom_cents": headroom},
    )


def rule_provider_approved(
    app: Application, program: Program, group: list[Organization], on: date
) -> Outcome:
    provider = app.intended_provider
    approved = (
        provider is not None
        and provider.is_active
        and program.approved_providers.filter(pk=provider.pk).exists()
    )
    return Outcome(
        ScreeningRule.PROVIDER_APPROVED,
        approved,
        {},
        {"provider": provider.short_name if provider else None},
    )


def rule_provider_affiliation(
    app: Application, program: Program, group: list[Organization], on: date
) -> Outcome:
    provider = app.intended_provider
    numbers = {org.registration_number for org in group}
    same_entity = provider is not None and provider.registration_number in numbers
    passed = app.declares_no_provider_affiliation and not same_entity
    return Outcome(
        ScreeningRule.PROVIDER_AFFILIATION,
        passed,
        {},
        {
            "declared_no_affiliation": app.declares_no_provider_affiliation,
            "provider_is_group_member": same_entity,
        },
    )


def rule_amount_range(
    app: Application, program: Program, group: list[Organization], on: date
) -> Outcome:
    amount = app.requested_amount_cents or 0
    return Outcome(
        ScreeningRule.AMOUNT_RANGE,
        program.award_floor_cents <= amount <= program.award_ceiling_cents,
        {
            "award_floor_cents": program.award_floor_cents,
            "award_ceiling_cents": program.award_ceiling_cents,
        },
        {"requested_cents": amount},
    )


RULES: list[Callable[[Application, Program, list[Organization], date], Outcome]] = [
    rule_region,
    rule_company_age,
    rule_sme_size,
    rule_credit_blacklist,
    rule_one_open_application,
    rule_prior_award,
    rule_provider_approved,
    rule_provider_affiliation,
    rule_amount_range,
]


def evaluate(application: Application, on: date) -> list[Outcome]:
    group = organization_group(application.organization)
    return [rule(application, application.program, group, on) for rule in RULES]


def describe(rule: str, passed: bool, parameter: dict[str, Any], observed: dict[str, Any]) -> str:
    """The reason in words, in the current language, for applicants and officers alike."""
    money = parameter.get("currency") or ""
    if rule == ScreeningRule.REGION:
        allowed = ", ".join(region_label(r) for r in parameter.get("allowed_regions", [])) or _(
            "any"
        )
        if passed:
            return _("Registered in %(region)s; the program accepts %(allowed)s.") % {
                "region": region_label(observed.get("region", "")),
                "allowed": allowed,
            }
        return _(
            "Registered in %(region)s, but the program accepts only organizations registered in "
            "%(allowed)s."
        ) % {"region": region_label(observed.get("region", "")), "allowed": allowed}
    if rule == ScreeningRule.COMPANY_AGE:
        limit = parameter.get("max_company_age_years")
        if limit is None:
            return _("The program sets no age limit.")
        values = {"date": observed.get("incorporated_on"), "years": limit}
        if passed:
            return (
                _("Incorporated on %(date)s: less than %(years)s years before submission.") % values
            )
        return (
            _(
                "Incorporated on %(date)s: %(years)s years or more before submission; the program "
                "is for younger companies."
            )
            % values
        )
    if rule == ScreeningRule.SME_SIZE:
        if observed.get("currency_mismatch"):
            return _(
                "Revenue is reported in %(have)s but the limit is in %(want)s: an officer "
                "compares them."
            ) % {"have": ", ".join(observed.get("revenue_currencies", [])), "want": money}
        max_headcount = parameter.get("max_headcount")
        max_revenue = parameter.get("max_annual_revenue_cents")
        limits = _("%(headcount)s and %(revenue)s") % {
            "headcount": _("at most %(max)s employees") % {"max": max_headcount}
            if max_headcount
            else _("any number of employees"),
            "revenue": _("revenue up to %(amount)s") % {"amount": format_money(max_revenue, money)}
            if max_revenue is not None
            else _("any revenue"),
        }
        values = {
            "n": observed.get("headcount"),
            "group": observed.get("group_size"),
            "revenue": format_money(observed.get("annual_revenue_cents") or 0, money),
            "limits": limits,
        }
        if passed:
            return (
                _(
                    "%(n)s employees and revenue of %(revenue)s, counting the organization and "
                    "its affiliates (%(group)s in all): within the limits (%(limits)s)."
                )
                % values
            )
        return (
            _(
                "%(n)s employees and revenue of %(revenue)s, counting the organization and "
                "its affiliates (%(group)s in all): above the limits (%(limits)s)."
            )
            % values
        )
    if rule == ScreeningRule.CREDIT_BLACKLIST:
        if passed:
            return _("Neither the organization nor its affiliates are on a credit blacklist.")
        return _("On a credit blacklist: %(numbers)s.") % {
            "numbers": ", ".join(observed.get("blacklisted", []))
        }
    if rule == ScreeningRule.ONE_OPEN_APPLICATION:
        if passed:
            return _(
                "No other open application to this program from the organization or its affiliates."
            )
        return _(
            "Another application to this program is open for the organization or an affiliate: "
            "%(refs)s."
        ) % {"refs": ", ".join(observed.get("other_open_applications", []))}
    if rule == ScreeningRule.PRIOR_AWARD:
        values = {
            "prior": format_money(observed.get("prior_awards_cents", 0)),
            "headroom": format_money(observed.get("headroom_cents", 0)),
        }
        if not observed.get("prior_awards_cents"):
            return _("No earlier award in this program.")
        if passed:
            return (
                _(
                    "Earlier awards of %(prior)s in this program: the request is within the "
                    "difference still available (%(headroom)s)."
                )
                % values
            )
        return (
            _(
                "Earlier awards of %(prior)s in this program: at most %(headroom)s more can be "
                "awarded."
            )
            % values
        )
    if rule == ScreeningRule.PROVIDER_APPROVED:
        if passed:
            return _("%(provider)s is approved for this program.") % {
                "provider": observed.get("provider")
            }
        return _("The chosen provider is not approved for this program.")
    if rule == ScreeningRule.PROVIDER_AFFILIATION:
        if observed.get("provider_is_group_member"):
            return _("The chosen provider belongs to the applicant's own group.")
        if passed:
            return _("Declared no affiliation with the provider.")
        return _("No declaration of independence from the provider.")
    if rule == ScreeningRule.AMOUNT_RANGE:
        values = {
            "amount": format_money(observed.get("requested_cents", 0)),
            "floor": format_money(parameter.get("award_floor_cents", 0)),
            "ceiling": format_money(parameter.get("award_ceiling_cents", 0)),
        }
        if passed:
            return _("%(amount)s is within %(floor)s – %(ceiling)s.") % values
        return _("%(amount)s is outside the program's range of %(floor)s – %(ceiling)s.") % values
    return rule
