# A Spin app on Spin's Python SDK 5 (spin-sdk 5.0.0, componentize-py 0.25.1, world
# spin:up/http-trigger@4.1.0), written as the SDK's README and examples write one: the
# key-value store (spin_sdk.key_value), variables (spin_sdk.variables) and outbound HTTP
# (spin_sdk.http.send), for tests/e2e/spin_sdk_py.sh.
#   GET/PUT/DELETE /kv/KEY   the default store: the value, 201 stored, 200 deleted, 404 absent
#   GET /kv-keys             every key of the default store, one a line (sorted)
#   GET /var/NAME            the component variable NAME (500 when undefined)
#   GET /fetch?url=URL       sends GET URL; answers the upstream's status and body, and its
#                            content-type as x-fetched-type
#   POST /sql                inserts the body as a note in the default SQLite database
#                            (spin_sdk.sqlite: spin:sqlite@3.1.0's async functions): 201
#                            with the note's rowid and the rows changed
#   GET /sql                 the notes, "id|body" a line after a line of the column names
from urllib.parse import parse_qs, urlparse

from spin_sdk import http, key_value, sqlite, variables
from spin_sdk.http import Request, Response
from spin_sdk.sqlite import Value_Integer, Value_Text


def text(status: int, body: str, headers: dict[str, str] | None = None) -> Response:
    h = {"content-type": "text/plain"}
    h.update(headers or {})
    return Response(status, h, bytes(body, "utf-8"))


class HttpHandler(http.Handler):
    async def handle_request(self, request: Request) -> Response:
        url = urlparse(request.uri)
        path = url.path
        if path.startswith("/kv/"):
            key = path[len("/kv/"):]
            with await key_value.open_default() as store:
                if request.method == "PUT":
                    await store.set(key, request.body or b"")
                    return text(201, "stored " + key)
                if request.method == "DELETE":
                    await store.delete(key)
                    return text(200, "deleted " + key)
                if not await store.exists(key):
                    return text(404, "no " + key)
                value = await store.get(key)
                return Response(200, {"content-type": "application/octet-stream"}, value)
        if path == "/kv-keys":
            with await key_value.open_default() as store:
                keys, result = await store.get_keys()
                names: list[str] = []
                with keys:
                    while not keys.writer_dropped:
                        names += await keys.read(100)
                with result:
                    await result.read()
                return text(200, "".join(k + "\n" for k in sorted(names)))
        if path.startswith("/var/"):
            value = await variables.get(path[len("/var/"):])
            return text(200, value)
        if path == "/fetch":
            target = parse_qs(url.query)["url"][0]
            got = await http.send(Request("GET", target, {}, None))
            return text(got.status, str(got.body, "utf-8"),
                        {"x-fetched-type": got.headers.get("content-type", "")})
        if path == "/sql":
            with await sqlite.Connection.open_default() as db:
                await run(db, "CREATE TABLE IF NOT EXISTS notes (id INTEGER PRIMARY KEY, body TEXT)", [])
                if request.method == "POST":
                    await run(db, "INSERT INTO notes (body) VALUES (?)",
                              [Value_Text(str(request.body or b"", "utf-8"))])
                    rowid = await db.last_insert_rowid()
                    changes = await db.changes()
                    return text(201, f"note {rowid}, {changes} changed")
                columns, rows = await run(db, "SELECT id, body FROM notes ORDER BY id", [])
                lines = ["|".join(columns)]
                for row in rows:
                    lines.append("|".join(str(v.value) for v in row.values
                                          if isinstance(v, (Value_Integer, Value_Text))))
                return text(200, "\n".join(lines))
        return text(404, "no route " + path)


async def run(db: sqlite.Connection, statement: str, params: list[sqlite.Value]):
    """Runs a statement: its column names and every row, read from the result's stream;
    raises the statement's error."""
    columns, stream, result = await db.execute(statement, params)
    rows: list[sqlite.RowResult] = []
    with stream:
        while not stream.writer_dropped:
            rows += await stream.read(100)
    with result:
        outcome = await result.read()
    if hasattr(outcome, "value") and outcome.value is not None:
        raise RuntimeError(outcome.value)
    return columns, rows
