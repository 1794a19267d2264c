"""The demo plays every shipped spec: on its seed data, or on generated data without one."""

from __future__ import annotations

from envscale import demo


def test_demo_plays_specs_without_seed_data(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert demo.main() == 0
    out = capsys.readouterr().out
    for name in ("airline", "retail"):
        section = out.split(f"== {name}:")[1].split("\n== ")[0]
        assert "initial state from generated data (seed 7" in section
        assert "[ok ]" in section and "reset: state hash back to" in section
    assert "initial state from clinic.data.json" in out
    assert len(out.splitlines()) < 80
