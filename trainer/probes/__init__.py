"""Probes on frozen strong features: knn, logreg, topo; used to relabel or filter weak labels."""

from trainer.probes._registry import (
    PROBES,
    PerKeyProbe,
    Probe,
    ProbeOutcome,
    apply_probe,
    knn_indices,
    make_probe,
    normalize,
    register_probe,
    registered_probes,
)

__all__ = [
    "PROBES",
    "PerKeyProbe",
    "Probe",
    "ProbeOutcome",
    "apply_probe",
    "knn_indices",
    "make_probe",
    "normalize",
    "register_probe",
    "registered_probes",
]
