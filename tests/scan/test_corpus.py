"""The evaluation corpus: every attack is live, every benign model loads, and the scanner calls
every attack unsafe and every benign model safe, running nothing while it scans."""

from __future__ import annotations

from pathlib import Path

import pytest

from modelyard.scan import scan
from tests.scan.corpus import Sample, build_attacks, build_benign
from tests.scan.corpus.live import load_all


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> tuple[list[Sample], list[Sample], Path]:
    root = tmp_path_factory.mktemp("corpus")
    marker = root / "marker"
    attacks = build_attacks(root / "attacks", marker)
    benign = build_benign(root / "benign")
    marker.unlink(missing_ok=True)  # building some samples runs the payload once
    return attacks, benign, marker


def test_corpus_size(corpus):
    attacks, benign, _ = corpus
    assert len(attacks) >= 62 and len(benign) >= 30
    assert len({sample.path for sample in attacks + benign}) == len(attacks) + len(benign)


def test_every_attack_is_live(corpus):
    attacks, _, marker = corpus
    results = load_all(attacks, marker)
    dead = [sample.id for sample in attacks if not results[str(sample.path)]["ran"]]
    assert not dead, f"these attacks did not run code when loaded: {dead}"


def test_every_benign_model_loads_and_runs_nothing(corpus):
    _, benign, marker = corpus
    results = load_all(benign, marker)
    broken = {
        sample.id: results[str(sample.path)]
        for sample in benign
        if results[str(sample.path)]["error"] or results[str(sample.path)]["ran"]
    }
    assert not broken


def test_scanner_flags_every_attack_and_no_benign_model(corpus):
    attacks, benign, marker = corpus
    report = scan(*(sample.path for sample in attacks + benign), jobs=2)
    verdicts = {Path(result.path): result for result in report.files}
    missed = {
        s.id: str(verdicts[s.path].verdict) for s in attacks if verdicts[s.path].verdict != "unsafe"
    }
    alarms = {
        sample.id: [finding.message for finding in verdicts[sample.path].findings]
        for sample in benign
        if verdicts[sample.path].verdict != "safe"
    }
    assert not missed, f"attacks not judged unsafe: {missed}"
    assert not alarms, f"benign models not judged safe: {alarms}"
    assert not marker.exists(), "scanning ran a payload"
