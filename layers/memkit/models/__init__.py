"""The memory domain's data shapes (Mastra's storage model, messages in the v2 format).

Every public name of the modules below is re-exported here: ``from memkit.models import Thread``.
``base`` holds timestamps, ids, metadata keys and the wire model; ``entities`` threads,
resources and messages; ``queries`` ordering, pagination, filters and pages; ``clone`` a
clone's request and answer; ``limits`` the limits on JSON input (``docs/limits.md``).
"""

from memkit.models.base import (
    FORBIDDEN_METADATA_KEYS,
    ID_PATTERN,
    MAX_ID_LENGTH,
    METADATA_KEY_PATTERN,
    ModelT,
    WireModel,
    coerce_ts,
    deep_merge,
    format_ts,
    parse_model,
    parse_ts,
    to_ms,
    utc_now,
    validate_id,
    validate_metadata_keys,
)
from memkit.models.clone import CloneMessageFilter, CloneOptions, CloneThreadInput, CloneThreadResult
from memkit.models.entities import (
    Message,
    MessageContent,
    MessageContentPatch,
    MessageUpdate,
    Resource,
    Role,
    Thread,
)
from memkit.models.queries import (
    MAX_COUNT,
    MESSAGE_ORDER_DEFAULT,
    MESSAGES_PER_PAGE_DEFAULT,
    THREAD_ORDER_DEFAULT,
    THREADS_PER_PAGE_DEFAULT,
    DateRange,
    Direction,
    IncludeItem,
    ListMessagesByResourceInput,
    ListMessagesInput,
    ListThreadsInput,
    MessageFilter,
    MessagePage,
    OrderBy,
    OrderField,
    Page,
    ThreadPage,
    check_count,
    normalize_pagination,
    page_meta,
)

__all__ = [
    "FORBIDDEN_METADATA_KEYS", "ID_PATTERN", "MAX_ID_LENGTH", "METADATA_KEY_PATTERN", "ModelT", "WireModel",
    "coerce_ts", "deep_merge", "format_ts", "parse_model", "parse_ts", "to_ms", "utc_now", "validate_id",
    "validate_metadata_keys",
    "CloneMessageFilter", "CloneOptions", "CloneThreadInput", "CloneThreadResult",
    "Message", "MessageContent", "MessageContentPatch", "MessageUpdate", "Resource", "Role", "Thread",
    "MAX_COUNT", "MESSAGE_ORDER_DEFAULT", "MESSAGES_PER_PAGE_DEFAULT", "THREAD_ORDER_DEFAULT",
    "THREADS_PER_PAGE_DEFAULT", "DateRange", "Direction", "IncludeItem", "ListMessagesByResourceInput",
    "ListMessagesInput", "ListThreadsInput", "MessageFilter", "MessagePage", "OrderBy", "OrderField", "Page",
    "ThreadPage", "check_count", "normalize_pagination", "page_meta",
]
