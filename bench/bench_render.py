"""Rendering a 1,000-record batch body with providers.rendering.

Timed: CompiledRequest.render of 1,000 Messages with the 8x8 CleverTap batch
preset, compiled once. Floor: json.dumps (compact, encoded) of the same final
structure as a list of dicts; the two bodies are checked to be the same bytes.
Best of several timeit repeats each. Target: at most 1.5x the floor.
"""

from __future__ import annotations

import argparse
import json
import sys
import timeit

from bench import common

RECORDS = 1_000
TARGET = 1.5
CALLBACK = "https://bridge.example.com/dlr/3q2-bench-token/"


def spec_and_variables():
    from providers import presets
    from providers.outbound.rendering import RequestSpec

    preset = presets.BY_SLUG["8x8-clevertap"]
    variables = {
        "subAccountId": "bench-account",
        "apiKey": "bench-api-key",
        "sender_id": "ACME",
        "callback_url": CALLBACK,
    }
    spec = RequestSpec(
        method="POST",
        endpoint=preset.endpoint,
        payload=preset.payload_text,
        headers=tuple((row.name, row.value) for row in preset.headers),
        variables=variables,
        batch_key=preset.batch_key,
    )
    return spec, variables


def messages(count: int) -> list:
    from providers.outbound.rendering import Message

    plain = "Hi Alex, your ACME order A{:06d} is on its way. Reply STOP to opt out."
    # Every tenth text needs escaping: quotes, a newline, non-ASCII and an emoji.
    awkward = 'Héllo “Zoë”, "order" A{:06d}\nis 🚚 on its way \\o/'
    return [
        Message(
            to=f"+6590{index:06d}",
            body=(awkward if index % 10 == 0 else plain).format(index),
            message_id=f"{index:032x}",
            campaign_id="42",
        )
        for index in range(count)
    ]


def equivalent(batch: list, variables: dict) -> dict:
    return {
        "msgs": [
            {
                "source": variables["sender_id"],
                "destination": m.to,
                "text": m.body,
                "mid": m.message_id,
                "encoding": "Auto",
                "partnerCallbackUrl": variables["callback_url"],
            }
            for m in batch
        ]
    }


def best(call, *, number: int, repeat: int) -> float:
    return min(timeit.repeat(call, number=number, repeat=repeat)) / number


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=RECORDS)
    parser.add_argument("--repeat", type=int, default=9)
    parser.add_argument("--number", type=int, default=20)
    options = parser.parse_args(argv)
    common.configure()
    from providers.outbound.rendering import compile_request

    spec, variables = spec_and_variables()
    compiled = compile_request(spec)
    batch = messages(options.records)
    document = equivalent(batch, variables)

    def rendered() -> bytes:
        return compiled.render(batch).body

    def dumped() -> bytes:
        return json.dumps(document, ensure_ascii=False, separators=(",", ":")).encode()

    if rendered() != dumped():
        print("the rendered body and json.dumps differ; the comparison is void")
        return 2
    timing = {"number": options.number, "repeat": options.repeat}
    ours, floor = best(rendered, **timing), best(dumped, **timing)
    return common.finish(
        common.Result(
            bench="render",
            title=f"render a {options.records:,}-record 8x8 CleverTap batch body",
            ours=ours * 1000,
            floor=floor * 1000,
            unit="ms",
            target=TARGET,
            lower_is_better=True,
            details=[
                f"body: {len(dumped()) / 1024:,.0f} KiB, byte-identical to json.dumps",
                f"best of {options.repeat} repeats of {options.number} calls each",
            ],
        )
    )


if __name__ == "__main__":
    sys.exit(main())
