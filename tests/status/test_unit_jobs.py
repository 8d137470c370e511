"""Master-unit job outcomes (UnitJobFinished) through the core into every rendering: the
status document's per-VIP `units` and counts, its JSON, `carpctl status`'s notes, explain and
the metrics. Fake clock: instants are given."""

from __future__ import annotations

from carpd import carpctl
from carpd.core.events import Start, TimerFired, UnitJobFinished
from carpd.core.node import Node
from carpd.core.unitjobs import UnitJobResult, UnitJobVia, UnitVerb
from carpd.status.document import NodeInfo, build_document
from carpd.status.explain import explain
from carpd.status.jsonform import to_json
from carpd.status.metrics import render
from tests.status.test_document import WEB, at

INFO = NodeInfo(hostname="n", version="0", uptime_s=1.0)


def job(result: UnitJobResult, *, unit: str = "nginx.service", verb: UnitVerb = UnitVerb.START,
        via: UnitJobVia = UnitJobVia.DBUS, detail: str = "") -> UnitJobFinished:
    return UnitJobFinished(name="web", unit=unit, verb=verb, result=result, via=via,
                           detail=detail)


def node_with(*jobs: UnitJobFinished) -> Node:
    n = Node([WEB], counter_source=lambda _n: 7)
    n.handle(Start(), 0.0)
    n.handle(TimerFired(), 3.5)
    for i, j in enumerate(jobs):
        assert n.handle(j, 4.0 + i) == []  # recorded, never an election input
    return n


def test_a_failed_start_shows_in_status_json_table_explain_and_metrics() -> None:
    n = node_with(job(UnitJobResult.DONE, unit="carpd-master@web.target"),
                  job(UnitJobResult.FAILED))
    assert n.machine("web").state.value == "MASTER"
    doc = build_document(n.statistics(), node=INFO, wall_iso=at)
    web = to_json(doc)["vips"][0]
    assert web["units"] == [
        {"unit": "carpd-master@web.target", "verb": "start", "result": "done", "via": "dbus",
         "detail": "", "at": at(4.0), "failed": False},
        {"unit": "nginx.service", "verb": "start", "result": "failed", "via": "dbus",
         "detail": "", "at": at(5.0), "failed": True}]
    table = carpctl.render_table(to_json(doc))
    print(table)
    assert "web: master unit nginx.service start failed at" in table
    text = explain(doc.vips[0])
    print(text)
    assert f"Master unit job failed: start of nginx.service ended failed at {at(5.0)}" in text
    metrics = render(doc)
    assert 'carpd_unit_jobs_total{vip="web",result="done"} 1' in metrics
    assert 'carpd_unit_jobs_total{vip="web",result="failed"} 1' in metrics


def test_the_last_job_per_unit_counts_and_the_systemctl_fallback() -> None:
    n = node_with(job(UnitJobResult.FAILED), job(UnitJobResult.CANCELED, verb=UnitVerb.STOP),
                  job(UnitJobResult.QUEUED, via=UnitJobVia.SYSTEMCTL,
                      detail="D-Bus not reachable: Connection refused"))
    doc = build_document(n.statistics(), node=INFO, wall_iso=at)
    (unit,) = doc.vips[0].units
    assert (unit.result, unit.via, unit.failed) == (UnitJobResult.QUEUED, "systemctl", False)
    assert dict(doc.vips[0].unit_jobs) == {UnitJobResult.FAILED: 1, UnitJobResult.CANCELED: 1,
                                           UnitJobResult.QUEUED: 1}
    assert "unit jobs via systemctl, results untracked" in carpctl.render_table(to_json(doc))
    assert "Unit jobs go through systemctl --no-block, their results untracked: D-Bus not " \
           "reachable: Connection refused." in explain(doc.vips[0])


def test_results_of_an_unknown_or_removed_vip_are_ignored() -> None:
    n = node_with()
    n.handle(UnitJobFinished(name="gone", unit="x.service", verb=UnitVerb.START,
                             result=UnitJobResult.FAILED, via=UnitJobVia.DBUS), 5.0)
    n.handle(job(UnitJobResult.FAILED), 5.0)
    n.remove("web")
    assert n.statistics().unit_jobs == ()
    assert n.statistics().unit_job_counts == {}


def test_result_words() -> None:
    assert UnitJobResult.parse("dependency") is UnitJobResult.DEPENDENCY
    assert UnitJobResult.parse("brand-new") is UnitJobResult.OTHER
    assert [r.value for r in UnitJobResult if not r.failed] == [
        "done", "canceled", "skipped", "queued", "not_run"]
