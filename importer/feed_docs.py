"""The partner-facing description of every feed, as text for a terminal or as Markdown."""

from __future__ import annotations

from importer.config import Settings
from importer.feeds import FEEDS, ColumnRule, FeedSpec, Kind
from importer.routing import feed_patterns
from importer.validation import FALSE_TOKENS, TRUE_TOKENS

_KIND_TEXT = {
    Kind.STRING: "text",
    Kind.INTEGER: "whole number",
    Kind.DECIMAL: "decimal number",
    Kind.BOOLEAN: f"boolean ({'/'.join(TRUE_TOKENS[:3])} or {'/'.join(FALSE_TOKENS[:3])}, any case)",
    Kind.DATE: "date (YYYY-MM-DD)",
    Kind.DATETIME: "date-time (ISO-8601, e.g. 2026-11-02T14:05:00+01:00; no offset means UTC)",
}


def feeds_markdown(settings: Settings) -> str:
    patterns = feed_patterns(settings)
    parts = [
        "# Feeds\n",
        "Files are CSV (comma, semicolon, tab or pipe separated, detected from the header), TSV, "
        "a JSON array of records, NDJSON (one record per line), or a JSON object wrapping the "
        'array (`{"products": [...]}`); any of them may be gzip-compressed (`.gz`). Text is '
        "UTF-8 unless agreed otherwise. Column names are matched ignoring case, spaces and "
        "camelCase (`externalId` = `external_id`). Empty values count as missing.\n",
    ]
    for name, spec in FEEDS.items():
        parts.append(_feed_section(spec, patterns[name], settings))
    return "\n".join(parts)


def _feed_section(spec: FeedSpec, patterns: tuple[str, ...], settings: Settings) -> str:
    aliases = {**spec.aliases, **settings.feed(spec.name).aliases}
    lines = [
        f"## {spec.name}\n",
        f"{spec.description}\n",
        f"- File names: {', '.join(f'`{p}`' for p in patterns)} (plus `.csv`, `.json`, ... and `.gz`)",
        f"- Key (unique per partner): {', '.join(f'`{k}`' for k in spec.key if k != 'partner_id')}",
    ]
    if spec.envelopes:
        lines.append(f"- JSON wrapper keys: {', '.join(f'`{e}`' for e in spec.envelopes)}")
    for link in spec.children:
        lines.append(
            f"- Nested lists {', '.join(f'`{f}`' for f in link.list_fields)} load as `{link.feed}`"
        )
    if aliases:
        lines.append(
            "- Also accepted as column names: "
            + ", ".join(f"`{a}` for `{f}`" for a, f in sorted(aliases.items()))
        )
    lines += [
        "",
        "| column | type | required | default | rules | example |",
        "|---|---|---|---|---|---|",
    ]
    lines += [_column_row(spec, rule) for rule in spec.columns]
    return "\n".join(lines) + "\n"


def _column_row(spec: FeedSpec, rule: ColumnRule) -> str:
    default = ""
    if rule.name in spec.copy_defaults:
        default = "= " + ", else ".join(spec.copy_defaults[rule.name])
    elif rule.default is not None:
        default = f"`{rule.default}`"
    return (
        f"| `{rule.name}` | {_KIND_TEXT[rule.kind]} | {'yes' if rule.required else ''} | {default} | "
        f"{_rules(spec, rule)} | {spec.examples.get(rule.name, '')} |"
    )


def _rules(spec: FeedSpec, rule: ColumnRule) -> str:
    notes = []
    if rule.max_length:
        notes.append(f"at most {rule.max_length} characters")
    if rule.minimum is not None:
        notes.append(f"{'>' if rule.exclusive_minimum else '>='} {rule.minimum}")
    if rule.maximum is not None:
        notes.append(f"<= {rule.maximum}")
    if rule.decimal_places is not None:
        notes.append(f"up to {rule.decimal_places} decimal places")
    if rule.choices:
        notes.append("one of " + ", ".join(rule.choices))
    if rule.name in spec.locations:
        notes.append("stored as `{partner}-{value}`")
    if rule.name in spec.weeks:
        notes.append("moved to the Monday of its week")
    if rule.name in spec.lowercase:
        notes.append("stored lower-case")
    if rule.name in spec.uppercase:
        notes.append("any text, matched without case, stored upper-case")
    if rule.description and rule.description not in ("",):
        notes.append(rule.description)
    return "; ".join(notes)
