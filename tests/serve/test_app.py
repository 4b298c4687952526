"""The app's readiness: 503 before its models are warm and while it drains for shutdown."""

from __future__ import annotations

import asyncio

import httpx2

from modelyard.serve.app import create_app
from modelyard.serve.model import load_served

ROW = {"instances": [[5.1, 3.5, 1.4, 0.2]]}


def test_not_ready_before_start_up_and_while_draining(packages) -> None:
    app = create_app([load_served(packages / "iris")])
    state = app.state.serve

    async def exchange() -> list[tuple[int, dict[str, str]]]:
        transport = httpx2.ASGITransport(app=app)
        answers = []
        async with httpx2.AsyncClient(transport=transport, base_url="http://serve") as client:
            for path in ("/v2/health/ready", "/v2/models/iris/ready"):
                response = await client.get(path)
                answers.append((response.status_code, response.json()))
            response = await client.post("/invocations", json=ROW)
            answers.append((response.status_code, response.json()))
            await state.start()
            response = await client.post("/invocations", json=ROW)
            answers.append((response.status_code, response.json()))
            state.begin_drain()
            response = await client.get("/v2/health/ready")
            answers.append((response.status_code, response.json()))
            response = await client.post("/invocations", json=ROW)
            answers.append((response.status_code, response.json()))
            await state.stop()
        return answers

    answers = asyncio.run(exchange())
    assert [status for status, _ in answers] == [503, 503, 503, 200, 503, 503]
    assert "loading" in answers[0][1]["error"]
    assert answers[3][1] == {"predictions": [0]}
    assert "shutting down" in answers[4][1]["error"]


def test_serve_is_the_callable_package_however_it_is_reached() -> None:
    import subprocess
    import sys

    code = (
        "import modelyard\n"
        "print(callable(modelyard.serve), modelyard.serve.__name__)\n"
        "import modelyard.serve.settings\n"
        "print(callable(modelyard.serve), modelyard.serve.settings.Limits().max_rows)\n"
        "print('starlette' in sys.modules)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", "import sys\n" + code], capture_output=True, text=True
    )
    assert done.stdout.split() == ["True", "modelyard.serve", "True", "100000", "False"], (
        done.stderr
    )
