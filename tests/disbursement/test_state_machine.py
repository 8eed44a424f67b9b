"""A voucher's life as a state machine, against a model in plain Python (reliability plan M6).

Hypothesis drives random sequences of what happens to a voucher (new claims, replays of a
reference, the same reference with other content, reversals, clawbacks, suspension,
reinstatement, expiry) through the real services on PostgreSQL, and after every step compares
the voucher with a small model of what should have happened, and checks the invariants:

- I1 0 <= spent <= cap;
- I2 spent and cap equal the sums of the voucher's ledger;
- I3 one claim per provider reference, one charge entry per accepted claim and none for a
  refused one;
- the program's committed budget moves with every release.

At the end of every sequence the ledger reconciliation must find nothing. Each sequence runs in
a savepoint rolled back afterwards, so every one starts from the same active voucher.
"""

from collections.abc import Callable
from dataclasses import dataclass, field

import pytest
from django.db import transaction
from django.db.models import Count, Sum
from hypothesis import HealthCheck
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)

from core.exceptions import ConflictError, DomainError
from disbursement.models import Claim, LedgerEntry
from disbursement.services import vouchers as money
from disbursement.services.claims import claim_submit
from disbursement.services.reconciliation import reconcile_ledger
from tests.artifacts import record_figures
from tests.disbursement.conftest import claim_input
from vouchers.models import Program, Voucher

pytestmark = [pytest.mark.postgres, pytest.mark.django_db]

STEPS: dict = {"count": 0, "sequences": 0, "by_rule": {}, "statuses": set()}


@dataclass
class Model:
    status: str
    spent: int
    cap: int
    committed: int
    # reference -> (amount asked, granted subsidy or None when refused, claim status)
    claims: dict[str, list] = field(default_factory=dict)


def run_machine(voucher: Voucher, staff, approver, *, examples: int, steps: int) -> None:
    provider = staff.provider_staff.provider
    program_id = voucher.program_id
    policy = voucher.over_cap_policy

    class VoucherLife(RuleBasedStateMachine):
        def __init__(self) -> None:
            super().__init__()
            self.savepoint = transaction.savepoint()
            fresh = Voucher.objects.get(pk=voucher.pk)
            program = Program.objects.get(pk=program_id)
            self.model = Model(
                fresh.status, fresh.spent_cents, fresh.cap_cents, program.committed_cents
            )
            self.numbers = iter(range(1, 10**6))
            STEPS["sequences"] += 1

        def teardown(self) -> None:
            try:
                run = reconcile_ledger(actor=None)
                assert run.discrepancy_count == 0, list(run.discrepancies.values())[:3]
            finally:
                transaction.savepoint_rollback(self.savepoint)

        def _count(self, name: str) -> None:
            STEPS["count"] += 1
            STEPS["by_rule"][name] = STEPS["by_rule"].get(name, 0) + 1

        # --- the rules ----------------------------------------------------------------------

        @rule(amount=st.integers(min_value=1, max_value=80_000_00))
        def new_claim(self, amount: int) -> None:
            self._count("new_claim")
            self._claim(amount)

        @precondition(lambda self: self.model.cap > self.model.spent)
        @rule(extra=st.sampled_from([0, 1]))
        def claim_the_rest(self, extra: int) -> None:
            """Exactly what is left (the voucher is then exhausted), or one cent more."""
            self._count("claim_the_rest")
            self._claim(self.model.cap - self.model.spent + extra)

        def _claim(self, amount: int) -> None:
            m = self.model
            reference = f"R{next(self.numbers)}"
            data = claim_input(voucher, reference=reference, lines=[("domestic", amount * 2)])
            outcome = claim_submit(actor=staff, provider=provider, data=data)
            remaining = m.cap - m.spent
            if m.status != Voucher.Status.ACTIVE or remaining == 0:
                granted = None
            elif policy == "clamp":
                granted = min(amount, remaining)
            else:
                granted = amount if amount <= remaining else None
            claim = outcome.claim
            assert not outcome.replayed
            if granted is None:
                assert claim.status == Claim.Status.REJECTED, (m, claim.calculation)
            else:
                assert claim.status == Claim.Status.ACCEPTED, (m, claim.rejection_code)
                assert claim.subsidy_cents == granted
                m.spent += granted
                if m.spent == m.cap:
                    m.status = Voucher.Status.EXHAUSTED
            m.claims[reference] = [amount, granted, claim.status, claim.pk]

        @precondition(lambda self: self.model.claims)
        @rule(data=st.data())
        def replay(self, data: st.DataObject) -> None:
            self._count("replay")
            reference = data.draw(st.sampled_from(sorted(self.model.claims)))
            amount, _granted, status, claim_id = self.model.claims[reference]
            again = claim_input(voucher, reference=reference, lines=[("domestic", amount * 2)])
            # claim_input numbers invoices itself: a replay must send what was first sent.
            first = Claim.objects.get(pk=claim_id)
            again = again.__class__(**{**again.__dict__, "invoice_number": first.invoice_number})
            outcome = claim_submit(actor=staff, provider=provider, data=again)
            assert outcome.replayed and outcome.claim.pk == claim_id

        @precondition(lambda self: self.model.claims)
        @rule(data=st.data())
        def same_reference_other_content(self, data: st.DataObject) -> None:
            self._count("same_reference_other_content")
            reference = data.draw(st.sampled_from(sorted(self.model.claims)))
            amount = self.model.claims[reference][0]
            changed = claim_input(
                voucher, reference=reference, lines=[("domestic", amount * 2 + 2)]
            )
            with pytest.raises(ConflictError):
                claim_submit(actor=staff, provider=provider, data=changed)

        @precondition(
            lambda self: any(c[2] == Claim.Status.ACCEPTED for c in self.model.claims.values())
        )
        @rule(data=st.data())
        def reverse(self, data: st.DataObject) -> None:
            self._count("reverse")
            m = self.model
            accepted = sorted(r for r, c in m.claims.items() if c[2] == Claim.Status.ACCEPTED)
            reference = data.draw(st.sampled_from(accepted))
            granted, claim_id = m.claims[reference][1], m.claims[reference][3]
            if granted > m.spent:  # a clawback already took (some of) it back
                with pytest.raises(ConflictError, match="clawback"):
                    money.claim_reverse(actor=approver, claim_id=claim_id, reason="credit note")
                return
            money.claim_reverse(actor=approver, claim_id=claim_id, reason="credit note issued")
            m.spent -= granted
            m.claims[reference][2] = Claim.Status.REVERSED
            if m.status == Voucher.Status.EXHAUSTED:
                m.status = Voucher.Status.ACTIVE
            elif m.status == Voucher.Status.EXPIRED:
                # Given back after the validity ended: released to the program, not re-spendable.
                m.cap -= granted
                m.committed -= granted

        @precondition(lambda self: self.model.spent > 0)
        @rule(data=st.data())
        def clawback(self, data: st.DataObject) -> None:
            self._count("clawback")
            m = self.model
            amount = data.draw(st.integers(min_value=1, max_value=m.spent))
            money.voucher_clawback(
                actor=approver, voucher_id=voucher.pk, amount_cents=amount, reason="ineligible use"
            )
            m.spent -= amount
            m.cap -= amount
            m.committed -= amount

        def _switch(self, service: Callable[..., object], reason: str, target: str) -> None:
            """Suspend or reinstate: from active or suspended only (the other one is a no-op)."""
            m = self.model
            if m.status in (Voucher.Status.ACTIVE, Voucher.Status.SUSPENDED):
                service(actor=approver, voucher_id=voucher.pk, reason=reason)
                m.status = target
            else:
                with pytest.raises(ConflictError):
                    service(actor=approver, voucher_id=voucher.pk, reason=reason)

        @rule()
        def suspend(self) -> None:
            self._count("suspend")
            self._switch(money.voucher_suspend, "checking the invoices", Voucher.Status.SUSPENDED)

        @rule()
        def reinstate(self) -> None:
            self._count("reinstate")
            self._switch(
                money.voucher_reinstate, "invoices checked, all fine", Voucher.Status.ACTIVE
            )

        @precondition(lambda self: self.model.status != Voucher.Status.EXPIRED)
        @rule()
        def expire(self) -> None:
            self._count("expire")
            m = self.model
            fresh = Voucher.objects.get(pk=voucher.pk)
            money.voucher_expire(voucher_id=voucher.pk, now=fresh.valid_until)
            m.committed -= m.cap - m.spent
            m.cap = m.spent
            m.status = Voucher.Status.EXPIRED

        @rule(amount=st.integers(max_value=0) | st.integers(min_value=10**13))
        def clawback_out_of_range(self, amount: int) -> None:
            self._count("clawback_out_of_range")
            with pytest.raises(DomainError):
                money.voucher_clawback(
                    actor=approver, voucher_id=voucher.pk, amount_cents=amount, reason="a typo"
                )

        # --- after every step ---------------------------------------------------------------

        @invariant()
        def books_agree_with_the_model(self) -> None:
            m = self.model
            STEPS["statuses"].add(m.status)
            fresh = Voucher.objects.get(pk=voucher.pk)
            assert (fresh.status, fresh.spent_cents, fresh.cap_cents) == (m.status, m.spent, m.cap)
            assert 0 <= fresh.spent_cents <= fresh.cap_cents
            sums = LedgerEntry.objects.filter(voucher=fresh).aggregate(
                spent=Sum("spent_delta_cents"), cap=Sum("cap_delta_cents")
            )
            assert (sums["spent"], sums["cap"]) == (m.spent, m.cap)
            assert Program.objects.get(pk=program_id).committed_cents == m.committed
            charges = dict(
                LedgerEntry.objects.filter(voucher=fresh, kind="charge")
                .values_list("claim_id")
                .annotate(n=Count("id"))
            )
            accepted_ever = {c[3] for c in m.claims.values() if c[1] is not None}
            assert set(charges) == accepted_ever and set(charges.values()) <= {1}
            assert Claim.objects.filter(provider=provider).count() == len(m.claims)

    run_state_machine_as_test(
        VoucherLife,
        settings=hypothesis_settings(
            max_examples=examples,
            stateful_step_count=steps,
            deadline=None,
            derandomize=True,
            suppress_health_check=list(HealthCheck),
        ),
    )


@pytest.mark.parametrize("policy", ["reject", "clamp"])
def test_a_voucher_life_agrees_with_the_model(policy, active_voucher, provider_staff, approver):
    Voucher.objects.filter(pk=active_voucher.pk).update(over_cap_policy=policy)
    active_voucher.refresh_from_db()
    before = STEPS["count"]
    run_machine(active_voucher, provider_staff, approver, examples=100, steps=40)
    record_figures(
        "disbursement/state_machine.json",
        policy,
        {
            "sequences": STEPS["sequences"],
            "steps": STEPS["count"] - before,
            "by_rule": dict(STEPS["by_rule"]),
            "violations": 0,
            "statuses_met": sorted(str(s) for s in STEPS["statuses"]),
        },
    )
    STEPS["sequences"], STEPS["by_rule"], STEPS["statuses"] = 0, {}, set()
