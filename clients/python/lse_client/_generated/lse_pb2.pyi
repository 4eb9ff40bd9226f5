from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from typing import ClassVar as _ClassVar, Iterable as _Iterable, Mapping as _Mapping, Optional as _Optional, Union as _Union

CHANGE_TARGET_EXPECTED_OUTPUT: ChangeTarget
CHANGE_TARGET_PROBLEM: ChangeTarget
CHANGE_TARGET_PROBLEM_COLUMN: ChangeTarget
CHANGE_TARGET_PROBLEM_TEXT: ChangeTarget
CHANGE_TARGET_TEST_CASE: ChangeTarget
CHANGE_TARGET_UNSPECIFIED: ChangeTarget
CHANGE_TYPE_CREATED: ChangeType
CHANGE_TYPE_DELETED: ChangeType
CHANGE_TYPE_UNSPECIFIED: ChangeType
CHANGE_TYPE_UPDATED: ChangeType
DESCRIPTOR: _descriptor.FileDescriptor
STORE_STATUS_CLOSED: StoreStatus
STORE_STATUS_CLOSING: StoreStatus
STORE_STATUS_DISK_FULL: StoreStatus
STORE_STATUS_FAILED: StoreStatus
STORE_STATUS_OPEN: StoreStatus
STORE_STATUS_UNSPECIFIED: StoreStatus
SYNC_MODE_ALWAYS: SyncMode
SYNC_MODE_INTERVAL: SyncMode
SYNC_MODE_NONE: SyncMode
SYNC_MODE_UNSPECIFIED: SyncMode

class AddTestCaseRequest(_message.Message):
    __slots__ = ["problem_id", "value"]
    PROBLEM_ID_FIELD_NUMBER: _ClassVar[int]
    VALUE_FIELD_NUMBER: _ClassVar[int]
    problem_id: int
    value: Value
    def __init__(self, problem_id: _Optional[int] = ..., value: _Optional[_Union[Value, _Mapping]] = ...) -> None: ...

class AddTestCaseResponse(_message.Message):
    __slots__ = ["tc_id"]
    TC_ID_FIELD_NUMBER: _ClassVar[int]
    tc_id: int
    def __init__(self, tc_id: _Optional[int] = ...) -> None: ...

class Change(_message.Message):
    __slots__ = ["column", "column_value", "html", "problem", "problem_id", "revision", "superseded", "target", "tc_id", "type", "value"]
    COLUMN_FIELD_NUMBER: _ClassVar[int]
    COLUMN_VALUE_FIELD_NUMBER: _ClassVar[int]
    HTML_FIELD_NUMBER: _ClassVar[int]
    PROBLEM_FIELD_NUMBER: _ClassVar[int]
    PROBLEM_ID_FIELD_NUMBER: _ClassVar[int]
    REVISION_FIELD_NUMBER: _ClassVar[int]
    SUPERSEDED_FIELD_NUMBER: _ClassVar[int]
    TARGET_FIELD_NUMBER: _ClassVar[int]
    TC_ID_FIELD_NUMBER: _ClassVar[int]
    TYPE_FIELD_NUMBER: _ClassVar[int]
    VALUE_FIELD_NUMBER: _ClassVar[int]
    column: str
    column_value: str
    html: str
    problem: ProblemValue
    problem_id: int
    revision: int
    superseded: bool
    target: ChangeTarget
    tc_id: int
    type: ChangeType
    value: Value
    def __init__(self, revision: _Optional[int] = ..., type: _Optional[_Union[ChangeType, str]] = ..., target: _Optional[_Union[ChangeTarget, str]] = ..., problem_id: _Optional[int] = ..., tc_id: _Optional[int] = ..., column: _Optional[str] = ..., problem: _Optional[_Union[ProblemValue, _Mapping]] = ..., html: _Optional[str] = ..., column_value: _Optional[str] = ..., value: _Optional[_Union[Value, _Mapping]] = ..., superseded: bool = ...) -> None: ...

class Column(_message.Message):
    __slots__ = ["name", "value"]
    NAME_FIELD_NUMBER: _ClassVar[int]
    VALUE_FIELD_NUMBER: _ClassVar[int]
    name: str
    value: str
    def __init__(self, name: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...

class CommitRequest(_message.Message):
    __slots__ = ["operations"]
    OPERATIONS_FIELD_NUMBER: _ClassVar[int]
    operations: _containers.RepeatedCompositeFieldContainer[Operation]
    def __init__(self, operations: _Optional[_Iterable[_Union[Operation, _Mapping]]] = ...) -> None: ...

class CommitResponse(_message.Message):
    __slots__ = ["created_ids", "revision"]
    CREATED_IDS_FIELD_NUMBER: _ClassVar[int]
    REVISION_FIELD_NUMBER: _ClassVar[int]
    created_ids: _containers.RepeatedScalarFieldContainer[int]
    revision: int
    def __init__(self, created_ids: _Optional[_Iterable[int]] = ..., revision: _Optional[int] = ...) -> None: ...

class CompactNowRequest(_message.Message):
    __slots__ = []
    def __init__(self) -> None: ...

class CompactNowResponse(_message.Message):
    __slots__ = ["result"]
    RESULT_FIELD_NUMBER: _ClassVar[int]
    result: CompactionResult
    def __init__(self, result: _Optional[_Union[CompactionResult, _Mapping]] = ...) -> None: ...

class CompactionResult(_message.Message):
    __slots__ = ["bytes_after", "bytes_before", "bytes_reclaimed", "duration_ms", "records_copied", "segments_compacted", "segments_written", "tombstones_dropped", "tombstones_kept"]
    BYTES_AFTER_FIELD_NUMBER: _ClassVar[int]
    BYTES_BEFORE_FIELD_NUMBER: _ClassVar[int]
    BYTES_RECLAIMED_FIELD_NUMBER: _ClassVar[int]
    DURATION_MS_FIELD_NUMBER: _ClassVar[int]
    RECORDS_COPIED_FIELD_NUMBER: _ClassVar[int]
    SEGMENTS_COMPACTED_FIELD_NUMBER: _ClassVar[int]
    SEGMENTS_WRITTEN_FIELD_NUMBER: _ClassVar[int]
    TOMBSTONES_DROPPED_FIELD_NUMBER: _ClassVar[int]
    TOMBSTONES_KEPT_FIELD_NUMBER: _ClassVar[int]
    bytes_after: int
    bytes_before: int
    bytes_reclaimed: int
    duration_ms: float
    records_copied: int
    segments_compacted: int
    segments_written: int
    tombstones_dropped: int
    tombstones_kept: int
    def __init__(self, segments_compacted: _Optional[int] = ..., segments_written: _Optional[int] = ..., bytes_before: _Optional[int] = ..., bytes_after: _Optional[int] = ..., bytes_reclaimed: _Optional[int] = ..., records_copied: _Optional[int] = ..., tombstones_kept: _Optional[int] = ..., tombstones_dropped: _Optional[int] = ..., duration_ms: _Optional[float] = ...) -> None: ...

class CompactionSummary(_message.Message):
    __slots__ = ["bytes_reclaimed", "failures", "last", "last_error", "running", "runs"]
    BYTES_RECLAIMED_FIELD_NUMBER: _ClassVar[int]
    FAILURES_FIELD_NUMBER: _ClassVar[int]
    LAST_ERROR_FIELD_NUMBER: _ClassVar[int]
    LAST_FIELD_NUMBER: _ClassVar[int]
    RUNNING_FIELD_NUMBER: _ClassVar[int]
    RUNS_FIELD_NUMBER: _ClassVar[int]
    bytes_reclaimed: int
    failures: int
    last: CompactionResult
    last_error: str
    running: bool
    runs: int
    def __init__(self, running: bool = ..., runs: _Optional[int] = ..., bytes_reclaimed: _Optional[int] = ..., failures: _Optional[int] = ..., last_error: _Optional[str] = ..., last: _Optional[_Union[CompactionResult, _Mapping]] = ...) -> None: ...

class CreateProblemRequest(_message.Message):
    __slots__ = ["columns", "html"]
    COLUMNS_FIELD_NUMBER: _ClassVar[int]
    HTML_FIELD_NUMBER: _ClassVar[int]
    columns: _containers.RepeatedCompositeFieldContainer[Column]
    html: str
    def __init__(self, html: _Optional[str] = ..., columns: _Optional[_Iterable[_Union[Column, _Mapping]]] = ...) -> None: ...

class CreateProblemResponse(_message.Message):
    __slots__ = ["problem_id"]
    PROBLEM_ID_FIELD_NUMBER: _ClassVar[int]
    problem_id: int
    def __init__(self, problem_id: _Optional[int] = ...) -> None: ...

class DeleteExpectedOutputRequest(_message.Message):
    __slots__ = ["expected_version", "problem_id", "tc_id"]
    EXPECTED_VERSION_FIELD_NUMBER: _ClassVar[int]
    PROBLEM_ID_FIELD_NUMBER: _ClassVar[int]
    TC_ID_FIELD_NUMBER: _ClassVar[int]
    expected_version: int
    problem_id: int
    tc_id: int
    def __init__(self, problem_id: _Optional[int] = ..., tc_id: _Optional[int] = ..., expected_version: _Optional[int] = ...) -> None: ...

class DeleteExpectedOutputResponse(_message.Message):
    __slots__ = ["revision"]
    REVISION_FIELD_NUMBER: _ClassVar[int]
    revision: int
    def __init__(self, revision: _Optional[int] = ...) -> None: ...

class DeleteProblemRequest(_message.Message):
    __slots__ = ["expected_version", "problem_id"]
    EXPECTED_VERSION_FIELD_NUMBER: _ClassVar[int]
    PROBLEM_ID_FIELD_NUMBER: _ClassVar[int]
    expected_version: int
    problem_id: int
    def __init__(self, problem_id: _Optional[int] = ..., expected_version: _Optional[int] = ...) -> None: ...

class DeleteProblemResponse(_message.Message):
    __slots__ = ["revision"]
    REVISION_FIELD_NUMBER: _ClassVar[int]
    revision: int
    def __init__(self, revision: _Optional[int] = ...) -> None: ...

class DeleteTestCaseRequest(_message.Message):
    __slots__ = ["expected_version", "problem_id", "tc_id"]
    EXPECTED_VERSION_FIELD_NUMBER: _ClassVar[int]
    PROBLEM_ID_FIELD_NUMBER: _ClassVar[int]
    TC_ID_FIELD_NUMBER: _ClassVar[int]
    expected_version: int
    problem_id: int
    tc_id: int
    def __init__(self, problem_id: _Optional[int] = ..., tc_id: _Optional[int] = ..., expected_version: _Optional[int] = ...) -> None: ...

class DeleteTestCaseResponse(_message.Message):
    __slots__ = ["revision"]
    REVISION_FIELD_NUMBER: _ClassVar[int]
    revision: int
    def __init__(self, revision: _Optional[int] = ...) -> None: ...

class DiskFullSummary(_message.Message):
    __slots__ = ["bytes_needed", "path", "since_unix_ms"]
    BYTES_NEEDED_FIELD_NUMBER: _ClassVar[int]
    PATH_FIELD_NUMBER: _ClassVar[int]
    SINCE_UNIX_MS_FIELD_NUMBER: _ClassVar[int]
    bytes_needed: int
    path: str
    since_unix_ms: int
    def __init__(self, path: _Optional[str] = ..., bytes_needed: _Optional[int] = ..., since_unix_ms: _Optional[int] = ...) -> None: ...

class FlushRequest(_message.Message):
    __slots__ = []
    def __init__(self) -> None: ...

class FlushResponse(_message.Message):
    __slots__ = []
    def __init__(self) -> None: ...

class GetAllTestCasesRequest(_message.Message):
    __slots__ = ["include_outputs", "page_size", "page_token", "problem_id"]
    INCLUDE_OUTPUTS_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    PROBLEM_ID_FIELD_NUMBER: _ClassVar[int]
    include_outputs: bool
    page_size: int
    page_token: str
    problem_id: int
    def __init__(self, problem_id: _Optional[int] = ..., include_outputs: bool = ..., page_size: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...

class GetAllTestCasesResponse(_message.Message):
    __slots__ = ["next_page_token", "test_cases"]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    TEST_CASES_FIELD_NUMBER: _ClassVar[int]
    next_page_token: str
    test_cases: _containers.RepeatedCompositeFieldContainer[TestCase]
    def __init__(self, test_cases: _Optional[_Iterable[_Union[TestCase, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class GetExpectedOutputRequest(_message.Message):
    __slots__ = ["problem_id", "tc_id"]
    PROBLEM_ID_FIELD_NUMBER: _ClassVar[int]
    TC_ID_FIELD_NUMBER: _ClassVar[int]
    problem_id: int
    tc_id: int
    def __init__(self, problem_id: _Optional[int] = ..., tc_id: _Optional[int] = ...) -> None: ...

class GetExpectedOutputResponse(_message.Message):
    __slots__ = ["value", "version"]
    VALUE_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    value: Value
    version: int
    def __init__(self, value: _Optional[_Union[Value, _Mapping]] = ..., version: _Optional[int] = ...) -> None: ...

class GetProblemHtmlRequest(_message.Message):
    __slots__ = ["problem_id"]
    PROBLEM_ID_FIELD_NUMBER: _ClassVar[int]
    problem_id: int
    def __init__(self, problem_id: _Optional[int] = ...) -> None: ...

class GetProblemHtmlResponse(_message.Message):
    __slots__ = ["html", "version"]
    HTML_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    html: str
    version: int
    def __init__(self, html: _Optional[str] = ..., version: _Optional[int] = ...) -> None: ...

class GetProblemMetaRequest(_message.Message):
    __slots__ = ["problem_id"]
    PROBLEM_ID_FIELD_NUMBER: _ClassVar[int]
    problem_id: int
    def __init__(self, problem_id: _Optional[int] = ...) -> None: ...

class GetProblemMetaResponse(_message.Message):
    __slots__ = ["columns", "version"]
    COLUMNS_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    columns: _containers.RepeatedCompositeFieldContainer[Column]
    version: int
    def __init__(self, columns: _Optional[_Iterable[_Union[Column, _Mapping]]] = ..., version: _Optional[int] = ...) -> None: ...

class GetStatsRequest(_message.Message):
    __slots__ = []
    def __init__(self) -> None: ...

class GetStatsResponse(_message.Message):
    __slots__ = ["active_segment_bytes", "active_segment_number", "cache_bytes", "cache_hits", "cache_misses", "compaction", "dead_bytes", "disk_bytes", "disk_full", "expected_outputs_in_index", "index_bytes", "last_recovery", "live_bytes", "problems_in_index", "revision", "segment_count", "store_status", "sync_count", "sync_mode", "test_cases_in_index", "uptime_ms"]
    ACTIVE_SEGMENT_BYTES_FIELD_NUMBER: _ClassVar[int]
    ACTIVE_SEGMENT_NUMBER_FIELD_NUMBER: _ClassVar[int]
    CACHE_BYTES_FIELD_NUMBER: _ClassVar[int]
    CACHE_HITS_FIELD_NUMBER: _ClassVar[int]
    CACHE_MISSES_FIELD_NUMBER: _ClassVar[int]
    COMPACTION_FIELD_NUMBER: _ClassVar[int]
    DEAD_BYTES_FIELD_NUMBER: _ClassVar[int]
    DISK_BYTES_FIELD_NUMBER: _ClassVar[int]
    DISK_FULL_FIELD_NUMBER: _ClassVar[int]
    EXPECTED_OUTPUTS_IN_INDEX_FIELD_NUMBER: _ClassVar[int]
    INDEX_BYTES_FIELD_NUMBER: _ClassVar[int]
    LAST_RECOVERY_FIELD_NUMBER: _ClassVar[int]
    LIVE_BYTES_FIELD_NUMBER: _ClassVar[int]
    PROBLEMS_IN_INDEX_FIELD_NUMBER: _ClassVar[int]
    REVISION_FIELD_NUMBER: _ClassVar[int]
    SEGMENT_COUNT_FIELD_NUMBER: _ClassVar[int]
    STORE_STATUS_FIELD_NUMBER: _ClassVar[int]
    SYNC_COUNT_FIELD_NUMBER: _ClassVar[int]
    SYNC_MODE_FIELD_NUMBER: _ClassVar[int]
    TEST_CASES_IN_INDEX_FIELD_NUMBER: _ClassVar[int]
    UPTIME_MS_FIELD_NUMBER: _ClassVar[int]
    active_segment_bytes: int
    active_segment_number: int
    cache_bytes: int
    cache_hits: int
    cache_misses: int
    compaction: CompactionSummary
    dead_bytes: int
    disk_bytes: int
    disk_full: DiskFullSummary
    expected_outputs_in_index: int
    index_bytes: int
    last_recovery: RecoverySummary
    live_bytes: int
    problems_in_index: int
    revision: int
    segment_count: int
    store_status: StoreStatus
    sync_count: int
    sync_mode: SyncMode
    test_cases_in_index: int
    uptime_ms: int
    def __init__(self, problems_in_index: _Optional[int] = ..., test_cases_in_index: _Optional[int] = ..., expected_outputs_in_index: _Optional[int] = ..., segment_count: _Optional[int] = ..., active_segment_number: _Optional[int] = ..., active_segment_bytes: _Optional[int] = ..., disk_bytes: _Optional[int] = ..., live_bytes: _Optional[int] = ..., dead_bytes: _Optional[int] = ..., index_bytes: _Optional[int] = ..., cache_bytes: _Optional[int] = ..., cache_hits: _Optional[int] = ..., cache_misses: _Optional[int] = ..., sync_mode: _Optional[_Union[SyncMode, str]] = ..., sync_count: _Optional[int] = ..., store_status: _Optional[_Union[StoreStatus, str]] = ..., last_recovery: _Optional[_Union[RecoverySummary, _Mapping]] = ..., uptime_ms: _Optional[int] = ..., compaction: _Optional[_Union[CompactionSummary, _Mapping]] = ..., disk_full: _Optional[_Union[DiskFullSummary, _Mapping]] = ..., revision: _Optional[int] = ...) -> None: ...

class GetTestCaseRequest(_message.Message):
    __slots__ = ["problem_id", "tc_id"]
    PROBLEM_ID_FIELD_NUMBER: _ClassVar[int]
    TC_ID_FIELD_NUMBER: _ClassVar[int]
    problem_id: int
    tc_id: int
    def __init__(self, problem_id: _Optional[int] = ..., tc_id: _Optional[int] = ...) -> None: ...

class GetTestCaseResponse(_message.Message):
    __slots__ = ["value", "version"]
    VALUE_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    value: Value
    version: int
    def __init__(self, value: _Optional[_Union[Value, _Mapping]] = ..., version: _Optional[int] = ...) -> None: ...

class Int64List(_message.Message):
    __slots__ = ["values"]
    VALUES_FIELD_NUMBER: _ClassVar[int]
    values: _containers.RepeatedScalarFieldContainer[int]
    def __init__(self, values: _Optional[_Iterable[int]] = ...) -> None: ...

class ListProblemsRequest(_message.Message):
    __slots__ = ["page_size", "page_token"]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    page_size: int
    page_token: str
    def __init__(self, page_size: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...

class ListProblemsResponse(_message.Message):
    __slots__ = ["next_page_token", "problem_ids"]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    PROBLEM_IDS_FIELD_NUMBER: _ClassVar[int]
    next_page_token: str
    problem_ids: _containers.RepeatedScalarFieldContainer[int]
    def __init__(self, problem_ids: _Optional[_Iterable[int]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class Operation(_message.Message):
    __slots__ = ["add_test_case", "create_problem", "delete_expected_output", "delete_problem", "delete_test_case", "problem_ref", "set_expected_output", "tc_ref", "update_expected_output", "update_problem_column", "update_problem_html", "update_test_case"]
    ADD_TEST_CASE_FIELD_NUMBER: _ClassVar[int]
    CREATE_PROBLEM_FIELD_NUMBER: _ClassVar[int]
    DELETE_EXPECTED_OUTPUT_FIELD_NUMBER: _ClassVar[int]
    DELETE_PROBLEM_FIELD_NUMBER: _ClassVar[int]
    DELETE_TEST_CASE_FIELD_NUMBER: _ClassVar[int]
    PROBLEM_REF_FIELD_NUMBER: _ClassVar[int]
    SET_EXPECTED_OUTPUT_FIELD_NUMBER: _ClassVar[int]
    TC_REF_FIELD_NUMBER: _ClassVar[int]
    UPDATE_EXPECTED_OUTPUT_FIELD_NUMBER: _ClassVar[int]
    UPDATE_PROBLEM_COLUMN_FIELD_NUMBER: _ClassVar[int]
    UPDATE_PROBLEM_HTML_FIELD_NUMBER: _ClassVar[int]
    UPDATE_TEST_CASE_FIELD_NUMBER: _ClassVar[int]
    add_test_case: AddTestCaseRequest
    create_problem: CreateProblemRequest
    delete_expected_output: DeleteExpectedOutputRequest
    delete_problem: DeleteProblemRequest
    delete_test_case: DeleteTestCaseRequest
    problem_ref: int
    set_expected_output: SetExpectedOutputRequest
    tc_ref: int
    update_expected_output: UpdateExpectedOutputRequest
    update_problem_column: UpdateProblemColumnRequest
    update_problem_html: UpdateProblemHtmlRequest
    update_test_case: UpdateTestCaseRequest
    def __init__(self, create_problem: _Optional[_Union[CreateProblemRequest, _Mapping]] = ..., update_problem_html: _Optional[_Union[UpdateProblemHtmlRequest, _Mapping]] = ..., update_problem_column: _Optional[_Union[UpdateProblemColumnRequest, _Mapping]] = ..., delete_problem: _Optional[_Union[DeleteProblemRequest, _Mapping]] = ..., add_test_case: _Optional[_Union[AddTestCaseRequest, _Mapping]] = ..., update_test_case: _Optional[_Union[UpdateTestCaseRequest, _Mapping]] = ..., delete_test_case: _Optional[_Union[DeleteTestCaseRequest, _Mapping]] = ..., set_expected_output: _Optional[_Union[SetExpectedOutputRequest, _Mapping]] = ..., update_expected_output: _Optional[_Union[UpdateExpectedOutputRequest, _Mapping]] = ..., delete_expected_output: _Optional[_Union[DeleteExpectedOutputRequest, _Mapping]] = ..., problem_ref: _Optional[int] = ..., tc_ref: _Optional[int] = ...) -> None: ...

class ProblemValue(_message.Message):
    __slots__ = ["columns", "html"]
    COLUMNS_FIELD_NUMBER: _ClassVar[int]
    HTML_FIELD_NUMBER: _ClassVar[int]
    columns: _containers.RepeatedCompositeFieldContainer[Column]
    html: str
    def __init__(self, html: _Optional[str] = ..., columns: _Optional[_Iterable[_Union[Column, _Mapping]]] = ...) -> None: ...

class Progress(_message.Message):
    __slots__ = ["revision"]
    REVISION_FIELD_NUMBER: _ClassVar[int]
    revision: int
    def __init__(self, revision: _Optional[int] = ...) -> None: ...

class RecoverySummary(_message.Message):
    __slots__ = ["bytes_scanned", "damaged_range_count", "damaged_record_count", "duration_ms", "hints_written", "record_count", "removed_temporary_file_count", "segment_count", "segments_from_hints", "segments_scanned", "torn_tail_bytes", "unusable_hint_count"]
    BYTES_SCANNED_FIELD_NUMBER: _ClassVar[int]
    DAMAGED_RANGE_COUNT_FIELD_NUMBER: _ClassVar[int]
    DAMAGED_RECORD_COUNT_FIELD_NUMBER: _ClassVar[int]
    DURATION_MS_FIELD_NUMBER: _ClassVar[int]
    HINTS_WRITTEN_FIELD_NUMBER: _ClassVar[int]
    RECORD_COUNT_FIELD_NUMBER: _ClassVar[int]
    REMOVED_TEMPORARY_FILE_COUNT_FIELD_NUMBER: _ClassVar[int]
    SEGMENTS_FROM_HINTS_FIELD_NUMBER: _ClassVar[int]
    SEGMENTS_SCANNED_FIELD_NUMBER: _ClassVar[int]
    SEGMENT_COUNT_FIELD_NUMBER: _ClassVar[int]
    TORN_TAIL_BYTES_FIELD_NUMBER: _ClassVar[int]
    UNUSABLE_HINT_COUNT_FIELD_NUMBER: _ClassVar[int]
    bytes_scanned: int
    damaged_range_count: int
    damaged_record_count: int
    duration_ms: float
    hints_written: int
    record_count: int
    removed_temporary_file_count: int
    segment_count: int
    segments_from_hints: int
    segments_scanned: int
    torn_tail_bytes: int
    unusable_hint_count: int
    def __init__(self, segment_count: _Optional[int] = ..., record_count: _Optional[int] = ..., bytes_scanned: _Optional[int] = ..., torn_tail_bytes: _Optional[int] = ..., damaged_record_count: _Optional[int] = ..., damaged_range_count: _Optional[int] = ..., removed_temporary_file_count: _Optional[int] = ..., duration_ms: _Optional[float] = ..., segments_from_hints: _Optional[int] = ..., segments_scanned: _Optional[int] = ..., hints_written: _Optional[int] = ..., unusable_hint_count: _Optional[int] = ...) -> None: ...

class SetExpectedOutputRequest(_message.Message):
    __slots__ = ["problem_id", "tc_id", "value"]
    PROBLEM_ID_FIELD_NUMBER: _ClassVar[int]
    TC_ID_FIELD_NUMBER: _ClassVar[int]
    VALUE_FIELD_NUMBER: _ClassVar[int]
    problem_id: int
    tc_id: int
    value: Value
    def __init__(self, problem_id: _Optional[int] = ..., tc_id: _Optional[int] = ..., value: _Optional[_Union[Value, _Mapping]] = ...) -> None: ...

class SetExpectedOutputResponse(_message.Message):
    __slots__ = ["version"]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    version: int
    def __init__(self, version: _Optional[int] = ...) -> None: ...

class StringList(_message.Message):
    __slots__ = ["values"]
    VALUES_FIELD_NUMBER: _ClassVar[int]
    values: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, values: _Optional[_Iterable[str]] = ...) -> None: ...

class StringMap(_message.Message):
    __slots__ = ["entries"]
    ENTRIES_FIELD_NUMBER: _ClassVar[int]
    entries: _containers.RepeatedCompositeFieldContainer[StringMapEntry]
    def __init__(self, entries: _Optional[_Iterable[_Union[StringMapEntry, _Mapping]]] = ...) -> None: ...

class StringMapEntry(_message.Message):
    __slots__ = ["key", "value"]
    KEY_FIELD_NUMBER: _ClassVar[int]
    VALUE_FIELD_NUMBER: _ClassVar[int]
    key: str
    value: str
    def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...

class TestCase(_message.Message):
    __slots__ = ["expected_output", "expected_output_version", "tc_id", "value", "version"]
    EXPECTED_OUTPUT_FIELD_NUMBER: _ClassVar[int]
    EXPECTED_OUTPUT_VERSION_FIELD_NUMBER: _ClassVar[int]
    TC_ID_FIELD_NUMBER: _ClassVar[int]
    VALUE_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    expected_output: Value
    expected_output_version: int
    tc_id: int
    value: Value
    version: int
    def __init__(self, tc_id: _Optional[int] = ..., value: _Optional[_Union[Value, _Mapping]] = ..., expected_output: _Optional[_Union[Value, _Mapping]] = ..., version: _Optional[int] = ..., expected_output_version: _Optional[int] = ...) -> None: ...

class UpdateExpectedOutputRequest(_message.Message):
    __slots__ = ["expected_version", "problem_id", "tc_id", "value"]
    EXPECTED_VERSION_FIELD_NUMBER: _ClassVar[int]
    PROBLEM_ID_FIELD_NUMBER: _ClassVar[int]
    TC_ID_FIELD_NUMBER: _ClassVar[int]
    VALUE_FIELD_NUMBER: _ClassVar[int]
    expected_version: int
    problem_id: int
    tc_id: int
    value: Value
    def __init__(self, problem_id: _Optional[int] = ..., tc_id: _Optional[int] = ..., value: _Optional[_Union[Value, _Mapping]] = ..., expected_version: _Optional[int] = ...) -> None: ...

class UpdateExpectedOutputResponse(_message.Message):
    __slots__ = ["version"]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    version: int
    def __init__(self, version: _Optional[int] = ...) -> None: ...

class UpdateProblemColumnRequest(_message.Message):
    __slots__ = ["column", "expected_version", "problem_id", "value"]
    COLUMN_FIELD_NUMBER: _ClassVar[int]
    EXPECTED_VERSION_FIELD_NUMBER: _ClassVar[int]
    PROBLEM_ID_FIELD_NUMBER: _ClassVar[int]
    VALUE_FIELD_NUMBER: _ClassVar[int]
    column: str
    expected_version: int
    problem_id: int
    value: str
    def __init__(self, problem_id: _Optional[int] = ..., column: _Optional[str] = ..., value: _Optional[str] = ..., expected_version: _Optional[int] = ...) -> None: ...

class UpdateProblemColumnResponse(_message.Message):
    __slots__ = ["version"]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    version: int
    def __init__(self, version: _Optional[int] = ...) -> None: ...

class UpdateProblemHtmlRequest(_message.Message):
    __slots__ = ["expected_version", "html", "problem_id"]
    EXPECTED_VERSION_FIELD_NUMBER: _ClassVar[int]
    HTML_FIELD_NUMBER: _ClassVar[int]
    PROBLEM_ID_FIELD_NUMBER: _ClassVar[int]
    expected_version: int
    html: str
    problem_id: int
    def __init__(self, problem_id: _Optional[int] = ..., html: _Optional[str] = ..., expected_version: _Optional[int] = ...) -> None: ...

class UpdateProblemHtmlResponse(_message.Message):
    __slots__ = ["version"]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    version: int
    def __init__(self, version: _Optional[int] = ...) -> None: ...

class UpdateTestCaseRequest(_message.Message):
    __slots__ = ["expected_version", "problem_id", "tc_id", "value"]
    EXPECTED_VERSION_FIELD_NUMBER: _ClassVar[int]
    PROBLEM_ID_FIELD_NUMBER: _ClassVar[int]
    TC_ID_FIELD_NUMBER: _ClassVar[int]
    VALUE_FIELD_NUMBER: _ClassVar[int]
    expected_version: int
    problem_id: int
    tc_id: int
    value: Value
    def __init__(self, problem_id: _Optional[int] = ..., tc_id: _Optional[int] = ..., value: _Optional[_Union[Value, _Mapping]] = ..., expected_version: _Optional[int] = ...) -> None: ...

class UpdateTestCaseResponse(_message.Message):
    __slots__ = ["version"]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    version: int
    def __init__(self, version: _Optional[int] = ...) -> None: ...

class Value(_message.Message):
    __slots__ = ["double_value", "int64_list_value", "int64_value", "string_list_value", "string_map_value", "string_value"]
    DOUBLE_VALUE_FIELD_NUMBER: _ClassVar[int]
    INT64_LIST_VALUE_FIELD_NUMBER: _ClassVar[int]
    INT64_VALUE_FIELD_NUMBER: _ClassVar[int]
    STRING_LIST_VALUE_FIELD_NUMBER: _ClassVar[int]
    STRING_MAP_VALUE_FIELD_NUMBER: _ClassVar[int]
    STRING_VALUE_FIELD_NUMBER: _ClassVar[int]
    double_value: float
    int64_list_value: Int64List
    int64_value: int
    string_list_value: StringList
    string_map_value: StringMap
    string_value: str
    def __init__(self, int64_value: _Optional[int] = ..., double_value: _Optional[float] = ..., string_value: _Optional[str] = ..., int64_list_value: _Optional[_Union[Int64List, _Mapping]] = ..., string_list_value: _Optional[_Union[StringList, _Mapping]] = ..., string_map_value: _Optional[_Union[StringMap, _Mapping]] = ...) -> None: ...

class WatchRequest(_message.Message):
    __slots__ = ["from_revision", "problem_id", "progress_interval_ms", "with_values"]
    FROM_REVISION_FIELD_NUMBER: _ClassVar[int]
    PROBLEM_ID_FIELD_NUMBER: _ClassVar[int]
    PROGRESS_INTERVAL_MS_FIELD_NUMBER: _ClassVar[int]
    WITH_VALUES_FIELD_NUMBER: _ClassVar[int]
    from_revision: int
    problem_id: int
    progress_interval_ms: int
    with_values: bool
    def __init__(self, from_revision: _Optional[int] = ..., problem_id: _Optional[int] = ..., with_values: bool = ..., progress_interval_ms: _Optional[int] = ...) -> None: ...

class WatchResponse(_message.Message):
    __slots__ = ["changes", "progress"]
    CHANGES_FIELD_NUMBER: _ClassVar[int]
    PROGRESS_FIELD_NUMBER: _ClassVar[int]
    changes: _containers.RepeatedCompositeFieldContainer[Change]
    progress: Progress
    def __init__(self, changes: _Optional[_Iterable[_Union[Change, _Mapping]]] = ..., progress: _Optional[_Union[Progress, _Mapping]] = ...) -> None: ...

class SyncMode(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = []

class StoreStatus(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = []

class ChangeType(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = []

class ChangeTarget(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = []
