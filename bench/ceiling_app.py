"""The ceiling: a bare FastAPI endpoint returning constant JSON (a task-sized object).

Served by the same uvicorn settings as the API; the API's GET throughput is reported as a
fraction of this one's.

    uvicorn bench.ceiling_app:app --workers 2
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI

app = FastAPI(title="ceiling")

TASK: dict[str, Any] = {
    "id": "6f1c2d9e-8a7b-4c3d-9e2f-1a2b3c4d5e6f",
    "user_id": "0b1c2d3e-4f5a-4b6c-8d7e-9f0a1b2c3d4e",
    "number": 3,
    "title": "Buy milk",
    "description": None,
    "is_completed": False,
    "version": 1,
    "created_at": "2026-11-27T05:00:00Z",
    "updated_at": "2026-11-27T05:00:00Z",
}


@app.get("/bare")
async def bare() -> dict[str, Any]:
    return TASK
