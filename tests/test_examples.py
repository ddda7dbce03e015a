"""Every example in examples/ runs, and says what its plugins did.

Each runs in its own interpreter: the quickstart configures Django for its
own database, which must not meet the test suite's Django settings.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


def run(name: str) -> str:
    done = subprocess.run(
        [sys.executable, str(EXAMPLES / name)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_every_example_has_a_test() -> None:
    # earnorm_quickstart.py needs Python 3.12+:
    # tests/integrations/earnorm_orm/test_earnorm_example.py; sqlalchemy_quickstart.py:
    # tests/integrations/sqlalchemy_orm/test_sqlalchemy_example.py.
    assert sorted(p.name for p in EXAMPLES.glob("*.py")) == [
        "earnorm_quickstart.py",
        "metrics.py",
        "quickstart.py",
        "sqlalchemy_quickstart.py",
    ]


def test_quickstart_shows_each_plugin_at_work() -> None:
    pytest.importorskip("django")
    out = run("quickstart.py")
    lines = out.splitlines()
    checked = [line[4:] for line in lines if line.startswith("ok  ")]
    # the model is named plainly, never as define_model.<locals>.Article
    assert checked[0].startswith("model blog.Article (examples/blog/models.py) woven with: ")
    assert "<locals>" not in out
    # tables come from Django migrations, the plugins' fields included
    assert (
        "migrate applied blog.0001_initial, earnorm_aop.0001_initial, "
        "earnorm_aop.0002_auditrecord_context" in checked
    )
    assert "blog_article has the plugins' columns: created_at, updated_at, deleted_at" in checked
    assert "makemigrations --check: blog's migration matches the model" in checked
    assert "timestamp: the first save set created_at = updated_at, timezone-aware" in checked
    assert "timestamp: the next save moved updated_at on, created_at unchanged" in checked
    refusal = "{'title': ['must have at least 3 characters/items']}"
    assert f"validation: save() of title='Hi' refused ({refusal})" in checked
    assert f"validation: a ModelForm shows it as a form error ({refusal})" in checked
    assert "softdelete: delete() kept the row: 0 visible, 1 in the table" in checked
    assert "softdelete: restore() brought it back" in checked
    assert "cache: the first get(pk) ran 1 query, the second 0" in checked
    assert 'registry.disable("softdelete"): delete() really deleted the row' in checked
    actions = "create, update, soft_delete, restore, create, delete"
    assert f"audit: one record per write, in the table: {actions}" in checked
    assert "    create       blog.Article#1 by alice" in lines
    assert "cache write failed" not in out
    # prints only what it checked: every line is a check, an audit record, or explain()
    explained = lines.index("Article")
    assert checked[-1] == "explain(Article): each woven method and its advice, in order"
    assert all(line.startswith(("ok  ", "    ")) for line in lines[:explained])
    assert all(line.startswith("  ") for line in lines[explained + 1 :])
    order = "changes, validation, softdelete, timestamp, lifecycle, audit, cache"
    assert f"  plugins, in order: {order}" in lines
    assert "chain   softdelete.hide_deleted" in out
    assert "delete_many (private.blog__Article__QuerySet.delete)" in out


def test_a_failed_quickstart_check_stops_the_demo() -> None:
    """``check`` is what makes each printed line true: a false claim raises."""
    sys.path.insert(0, str(EXAMPLES))
    try:
        import quickstart
    finally:
        sys.path.remove(str(EXAMPLES))
        sys.modules.pop("quickstart", None)
    with pytest.raises(quickstart.DemoFailed, match="demo check failed: a claim"):
        quickstart.check("a claim", False)


def test_metrics_example_shows_runs_failures_and_the_auto_disable() -> None:
    pytest.importorskip("prometheus_client")
    lines = run("metrics.py").splitlines()
    assert 'earnorm_aop_advice_runs_total{outcome="ok",plugin="stamp"} 5.0' in lines
    assert 'earnorm_aop_advice_runs_total{outcome="failed",plugin="notify"} 2.0' in lines
    # switched off after its second failure: the fifth save ran no notify advice
    assert 'earnorm_aop_advice_runs_total{outcome="ok",plugin="notify"} 2.0' in lines
    assert 'earnorm_aop_plugin_auto_disables_total{plugin="notify"} 1.0' in lines
    assert 'earnorm_aop_plugin_enabled{plugin="notify"} 0.0' in lines
    assert "earnorm_aop_metering 1.0" in lines
    assert lines[-1] == "health: degraded"
