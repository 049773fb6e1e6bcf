"""The feature store: definitions, point-in-time training sets, online serving."""

from modelyard.core.signature import DType
from modelyard.features._definitions import (
    Entity,
    FeatureRef,
    FeatureService,
    FeatureView,
    Field,
    FileSource,
)
from modelyard.features._on_demand import OnDemandFeatureView, RequestSource, on_demand_feature_view
from modelyard.features._online_redis import RedisOnlineStore
from modelyard.features._online_sqlite import SqliteOnlineStore
from modelyard.features._quality import (
    AllowedValues,
    Failure,
    Freshness,
    InRange,
    NotNull,
    RowCount,
    UniqueKeys,
)
from modelyard.features._sources import (
    DataFrameSource,
    DuckDBSource,
    PostgreSQLSource,
    SparkSource,
)
from modelyard.features._store import FeatureStore, OnlineResponse, Plan

# Feast-style type names: ``Field(name="income", dtype=Float64)``
Bool = DType.BOOL
Int32 = DType.INT32
Int64 = DType.INT64
Float32 = DType.FLOAT32
Float64 = DType.FLOAT64
String = DType.STRING
UnixTimestamp = DType.DATETIME

__all__ = [
    "AllowedValues",
    "Bool",
    "DataFrameSource",
    "DuckDBSource",
    "Entity",
    "Failure",
    "FeatureRef",
    "FeatureService",
    "FeatureStore",
    "FeatureView",
    "Field",
    "FileSource",
    "Float32",
    "Float64",
    "Freshness",
    "InRange",
    "Int32",
    "Int64",
    "NotNull",
    "OnDemandFeatureView",
    "OnlineResponse",
    "Plan",
    "PostgreSQLSource",
    "RedisOnlineStore",
    "RequestSource",
    "RowCount",
    "SparkSource",
    "SqliteOnlineStore",
    "String",
    "UniqueKeys",
    "UnixTimestamp",
    "on_demand_feature_view",
]
