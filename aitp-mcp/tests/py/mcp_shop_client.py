"""An MCP host, played by the official MCP Python SDK, buying from the AITP shop through
the aitp-mcp gateway.

    mcp_shop_client.py [--no-elicitation] [--decline-quote] [--forgetful] [--once] [--text TEXT]
                       (--http URL | --stdio COMMAND ARG...)

With elicitation, one call of the tool runs the whole purchase: the elicitation callback
answers like a user (the first product, twice; the address; accepts the quote). Without it,
the host answers each "the agent asks ..." result by calling the tool again. The last line
on stdout is a JSON summary the Rust test checks.
"""

import argparse
import json
import sys
from importlib.metadata import version

import anyio
import mcp_types as types
from mcp.client.session import ClientSession
from mcp.client.stdio import StdioServerParameters, stdio_client
from mcp.client.streamable_http import streamable_http_client

TOOL = "message_agent"
OPENING = "Hi! I'm going hiking next week and need some gear."
QUANTITY = 2
ADDRESS = {
    "name": "Ada Lovelace",
    "street": "12 St James's Square",
    "city": "London",
    "postal_code": "SW1Y 4LB",
    "country": "United Kingdom",
}


def answer_for(schema: dict, accept_quote: bool) -> dict:
    """What a user fills in, given the form the gateway shows."""
    props = schema.get("properties", {})
    if "choices" in props or "choice" in props:
        key = "choices" if "choices" in props else "choice"
        options = props[key]["items"]["anyOf"] if key == "choices" else props[key]["oneOf"]
        first = options[0]["const"]
        answer = {key: [first] if key == "choices" else first}
        if f"quantity_{first}" in props:
            answer[f"quantity_{first}"] = QUANTITY
        return answer
    if "accept" in props:
        return {"accept": accept_quote}
    return {k: v for k, v in ADDRESS.items() if k in props}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--stdio", nargs=argparse.REMAINDER)
    parser.add_argument("--http")
    parser.add_argument("--no-elicitation", action="store_true")
    parser.add_argument("--decline-quote", action="store_true")
    parser.add_argument("--once", action="store_true", help="one call; answer nothing")
    parser.add_argument("--forgetful", action="store_true", help="the first form lacks the street")
    parser.add_argument("--text", default=OPENING)
    args = parser.parse_args()
    elicitations = []

    async def on_elicit(context, params):
        schema = params.requested_schema
        answer = answer_for(schema, accept_quote=not args.decline_quote)
        forms = [e for e in elicitations if "street" in e["schema"].get("properties", {})]
        if args.forgetful and "street" in answer and not forms:
            del answer["street"]
        elicitations.append({"message": params.message, "schema": schema, "answer": answer})
        if "accept" in schema.get("properties", {}) and args.decline_quote:
            return types.ElicitResult(action="decline")
        return types.ElicitResult(action="accept", content=answer)

    async def converse(read, write):
        callback = None if args.no_elicitation else on_elicit
        async with ClientSession(read, write, elicitation_callback=callback) as session:
            init = await session.initialize()
            tools = await session.list_tools()
            tool = next(t for t in tools.tools if t.name == TOOL)
            calls = []
            result = await session.call_tool(TOOL, {"text": args.text})
            calls.append(result)
            # A host without elicitation answers what the agent asks, call by call.
            while not args.once and result.structured_content.get("status") == "asks":
                asks = result.structured_content["asks"]
                answer = answer_for(asks["answer_schema"], accept_quote=not args.decline_quote)
                result = await session.call_tool(
                    TOOL,
                    {"thread_id": result.structured_content["thread_id"], "answer": answer},
                )
                calls.append(result)
                if len(calls) > 10:
                    break
            summary = {
                "mcp": version("mcp"),
                "protocol_version": init.protocol_version,
                "instructions": init.instructions,
                "tool_description": tool.description,
                "elicitations": elicitations,
                "calls": [
                    {
                        "is_error": c.is_error,
                        "text": "".join(b.text for b in c.content if b.type == "text"),
                        "structured": c.structured_content,
                    }
                    for c in calls
                ],
            }
            print(json.dumps(summary))

    async def run():
        if args.http:
            async with streamable_http_client(args.http) as (read, write):
                await converse(read, write)
        else:
            command, *rest = args.stdio
            params = StdioServerParameters(command=command, args=rest)
            async with stdio_client(params) as (read, write):
                await converse(read, write)

    anyio.run(run)


if __name__ == "__main__":
    main()
