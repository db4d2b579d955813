"""The partner-facing description of every feed, as text for a terminal or as Markdown."""

from __future__ import annotations

from importer.config import Settings
from importer.feed_names import feed_patterns
from importer.feeds import FEEDS, ColumnRule, FeedSpec, Kind
from importer.names import camel_case
from importer.validation import FALSE_TOKENS, TRUE_TOKENS

_KIND_TEXT = {
    Kind.STRING: "text",
    Kind.INTEGER: "whole number",
    Kind.DECIMAL: "decimal number",
    Kind.NUMBER: "number (any decimal places)",
    Kind.BOOLEAN: f"boolean ({'/'.join(TRUE_TOKENS[:3])} or {'/'.join(FALSE_TOKENS[:3])}, any case)",
    Kind.DATE: "date (YYYY-MM-DD)",
    Kind.DATETIME: "date-time (ISO-8601, e.g. 2026-11-02T14:05:00+01:00; without an offset, in "
    "the partner's `timezone`, UTC unless configured)",
}


def feeds_markdown(settings: Settings, level: int = 1) -> str:
    """Every feed's file names and columns; ``level`` is the top heading's depth, so the same
    text stands alone or inside the README's partner guide."""
    patterns = feed_patterns(settings)
    parts = [
        f"{'#' * level} Feeds\n",
        "Files are CSV (comma, semicolon, tab or pipe separated, detected from the header), TSV, "
        "a JSON array of records, NDJSON (one record per line), or a JSON object wrapping the "
        'array (`{"products": [...]}`); any of them may be gzip-compressed (`.gz`). Text is '
        "UTF-8 unless agreed otherwise. Column names are matched ignoring case, spaces and "
        "camelCase (`externalId` = `external_id`); a nested JSON object is read as its fields "
        "(`billingAddress.firstName` = `billing_address_first_name`). Empty values count as "
        "missing. The *sent as* column gives each field as the source documents spell it.\n",
        "A column or field that matches none below is not lost: its value, as text, is kept in "
        "the row's `extra` JSON object under the name you sent (a list of objects as its JSON "
        "text), and the report lists it in `unknown_columns`.\n",
    ]
    for name, spec in FEEDS.items():
        parts.append(_feed_section(spec, patterns[name], settings, level + 1))
    return "\n".join(parts)


def documented_name(spec: FeedSpec, column: str) -> str:
    """``billing_address_first_name`` -> ``billingAddress.firstName``: how a JSON partner nests it."""
    for group in spec.objects:
        if column.startswith(f"{group}_"):
            return f"{camel_case(group)}.{camel_case(column.removeprefix(f'{group}_'))}"
    return camel_case(column)


def _feed_section(spec: FeedSpec, patterns: tuple[str, ...], settings: Settings, level: int) -> str:
    aliases = {**spec.aliases, **settings.feed(spec.name).aliases}
    lines = [
        f"{'#' * level} {spec.name}\n",
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
    lines += [
        "",
        "| column | sent as | type | required | default | rules | example |",
        "|---|---|---|---|---|---|---|",
    ]
    lines += [_column_row(spec, rule, aliases) for rule in spec.columns]
    return "\n".join(lines) + "\n"


def _sent_as(spec: FeedSpec, column: str, aliases: dict[str, str]) -> str:
    """The column's documented spelling, then the other names it is accepted under."""
    names = [documented_name(spec, column)]
    names += [camel_case(alias) for alias, target in sorted(aliases.items()) if target == column]
    return ", ".join(f"`{name}`" for name in dict.fromkeys(names))


def _column_row(spec: FeedSpec, rule: ColumnRule, aliases: dict[str, str]) -> str:
    default = ""
    if rule.name in spec.copy_defaults:
        default = "= " + ", else ".join(spec.copy_defaults[rule.name])
    elif rule.default is not None:
        default = f"`{rule.default}`"
    return (
        f"| `{rule.name}` | {_sent_as(spec, rule.name, aliases)} | {_KIND_TEXT[rule.kind]} | {'yes' if rule.required else ''} | {default} | "
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
