"""Arrow types -> the Hive type names the Glue Data Catalog (and so Athena, Spark, Trino) uses.

Delta Lake's own types map one to one (long -> bigint, integer -> int, decimal(p,s), timestamp, date, ...).
Unsigned integers, which Delta cannot store but Arrow can, widen to the next signed type.
"""

from __future__ import annotations

from dataclasses import dataclass

import pyarrow as pa
import pyarrow.types as pat

from autocorp.errors import CatalogError

_SIMPLE: tuple[tuple[object, str], ...] = (
    (pat.is_boolean, "boolean"),
    (pat.is_int8, "tinyint"), (pat.is_int16, "smallint"), (pat.is_int32, "int"), (pat.is_int64, "bigint"),
    (pat.is_uint8, "smallint"), (pat.is_uint16, "int"), (pat.is_uint32, "bigint"), (pat.is_uint64, "decimal(20,0)"),
    (pat.is_float16, "float"), (pat.is_float32, "float"), (pat.is_float64, "double"),
    (pat.is_string, "string"), (pat.is_large_string, "string"), (pat.is_null, "string"),
    (pat.is_binary, "binary"), (pat.is_large_binary, "binary"), (pat.is_fixed_size_binary, "binary"),
    (pat.is_date, "date"), (pat.is_timestamp, "timestamp"),
    # Delta has no time type: curate stores time columns as text (docs/curated-zone.md)
    (pat.is_time, "string"),
)


@dataclass(frozen=True)
class Column:
    """One Glue column: name and Hive type."""

    name: str
    type: str


def hive_type(dt: pa.DataType) -> str:
    """The Hive type name of an Arrow type (``decimal(12,2)``, ``array<struct<a:int>>``, ...).

    Raises:
        CatalogError: a type Glue cannot describe.
    """
    if isinstance(dt, pa.DictionaryType):
        return hive_type(dt.value_type)
    if pat.is_decimal(dt):
        return f"decimal({dt.precision},{dt.scale})" if dt.precision <= 38 else "string"
    for test, name in _SIMPLE:
        if test(dt):  # type: ignore[operator]
            return name
    if pat.is_list(dt) or pat.is_large_list(dt) or pat.is_fixed_size_list(dt):
        return f"array<{hive_type(dt.value_type)}>"
    if pat.is_map(dt):
        return f"map<{hive_type(dt.key_type)},{hive_type(dt.item_type)}>"
    if pat.is_struct(dt):
        fields = ",".join(f"{f.name}:{hive_type(f.type)}" for f in dt)
        return f"struct<{fields}>"
    if hasattr(pat, "is_string_view") and pat.is_string_view(dt):
        return "string"
    if hasattr(pat, "is_binary_view") and pat.is_binary_view(dt):
        return "binary"
    raise CatalogError(f"Arrow type {dt} has no Glue/Hive equivalent")


def hive_columns(schema: pa.Schema, table: str = "") -> list[Column]:
    """The Glue columns of an Arrow schema, in order.

    Raises:
        CatalogError: a column whose type Glue cannot describe (table and column named).
    """
    columns = []
    for f in schema:
        try:
            columns.append(Column(f.name, hive_type(f.type)))
        except CatalogError as exc:
            raise CatalogError(f"column '{f.name}' of curated table '{table}': {exc}; cast it to a supported "
                               "type in the curated table") from None
    return columns
