"""Nightly reconciliation: what each system holds, compared with what fieldbridge says it should hold.

- `window`: the company's day as a UTC interval (23 or 25 hours across DST);
- `sides`: one pandas frame per side (canonical model, ledger, CRM, payroll, accounting);
- `drift`: the comparison — pure, on frames, so a million jobs are compared without a vendor;
- `checks`: the Great Expectations suite that decides whether the night passed;
- `repair`: safe re-drives through the ledgered effects.
"""
