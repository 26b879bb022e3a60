"""The README's Python API example runs as written."""

import pathlib
import re

ROOT = pathlib.Path(__file__).resolve().parents[3]


def test_python_api_example_runs(capsys):
    text = (ROOT / "README.md").read_text()
    section = text.split("## Python API", 1)[1].split("\n## ", 1)[0]
    code = re.search(r"```python\n(.*?)```", section, re.S).group(1)
    exec(compile(code, "README.md", "exec"), {})
    out = capsys.readouterr().out
    assert "409 Conflict" in out and "/registry/pods/default/web-0" in out
    assert "['MODIFIED', 'MODIFIED', 'DELETED']" in out
