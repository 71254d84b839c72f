"""Admission webhooks of virt-api (reference §1.8): pure mutators and validators plus their routes.

Every mutator is `(request, config) -> new object` and every validator is
`(request, config[, lookups]) -> list[Cause]`; `review` turns them into AdmissionReview v1 answers.
Nothing in the mutator and validator modules does I/O.
"""
