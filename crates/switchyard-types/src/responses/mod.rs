//! The OpenAI Responses API: request, items, the `Response` object and stream events.

mod event;
mod item;
mod item_wire;
mod request;
mod response;

pub use event::{
    ArgumentsDoneEvent, ContentDeltaEvent, ContentPartEvent, ContentTextDoneEvent,
    CustomInputDoneEvent, ErrorEvent, ErrorPayload, ItemDeltaEvent, KeepaliveEvent, LifecycleEvent,
    OutputItemEvent, OutputTextDeltaEvent, OutputTextDoneEvent, RefusalDoneEvent,
    ResponseStreamEvent, SummaryDeltaEvent, SummaryPartEvent, SummaryTextDoneEvent,
};
pub use item::{
    ContentPart, CustomToolCallItem, CustomToolCallOutputItem, FunctionCallItem,
    FunctionCallOutputItem, InputFilePart, InputImagePart, Item, ItemReference, ItemStatus,
    MessageContent, MessageItem, OutputTextPart, ReasoningItem, RefusalPart, Role, TextPart,
    ToolOutput, check_part,
};
pub use request::{
    AllowedToolsChoice, CreateResponse, CustomTool, FunctionTool, Input, JsonSchemaFormat,
    NamedToolChoice, NamedToolKind, ReasoningConfig, TextConfig, TextFormat, Tool, ToolChoice,
    ToolChoiceMode, ToolReference, metadata_problem,
};
pub use response::{
    IncompleteDetails, InputTokensDetails, OutputTokensDetails, Response, ResponseError,
    ResponseStatus, Usage,
};
