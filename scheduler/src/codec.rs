//! The two body encodings of the v1 HTTP API: protobuf and Mesos's JSON mapping.

use std::fmt;
use std::str::FromStr;

use prost::Message;
use prost_reflect::ReflectMessage;

pub const APPLICATION_JSON: &str = "application/json";
pub const APPLICATION_PROTOBUF: &str = "application/x-protobuf";

/// Encoding of request bodies and of the records of the event stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ContentType {
    /// Mesos's own tools default to protobuf.
    #[default]
    Protobuf,
    Json,
}

#[derive(Debug, thiserror::Error)]
pub enum CodecError {
    #[error("invalid protobuf {message}: {source}")]
    Protobuf {
        message: &'static str,
        #[source]
        source: prost::DecodeError,
    },
    #[error(transparent)]
    Json(#[from] mesos_proto::json::JsonError),
}

impl ContentType {
    pub fn mime(self) -> &'static str {
        match self {
            ContentType::Protobuf => APPLICATION_PROTOBUF,
            ContentType::Json => APPLICATION_JSON,
        }
    }

    /// Reads a `Content-Type` header value, ignoring parameters such as `charset`.
    pub fn from_mime(value: &str) -> Option<Self> {
        match value.split(';').next().unwrap_or_default().trim() {
            APPLICATION_PROTOBUF => Some(ContentType::Protobuf),
            APPLICATION_JSON => Some(ContentType::Json),
            _ => None,
        }
    }

    pub fn encode<M: Message + ReflectMessage>(self, message: &M) -> Vec<u8> {
        match self {
            ContentType::Protobuf => message.encode_to_vec(),
            ContentType::Json => mesos_proto::json::to_json_string(message).into_bytes(),
        }
    }

    pub fn decode<M: Message + ReflectMessage + Default>(
        self,
        bytes: &[u8],
    ) -> Result<M, CodecError> {
        match self {
            ContentType::Protobuf => M::decode(bytes).map_err(|source| CodecError::Protobuf {
                message: std::any::type_name::<M>(),
                source,
            }),
            ContentType::Json => Ok(mesos_proto::json::from_json_slice(bytes)?),
        }
    }
}

impl FromStr for ContentType {
    type Err = String;

    /// Accepts the `--content_type` spellings of `mesos-execute`: a short name or a MIME type.
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        match text {
            "protobuf" => Ok(ContentType::Protobuf),
            "json" => Ok(ContentType::Json),
            other => ContentType::from_mime(other)
                .ok_or_else(|| format!("Invalid content type '{other}'")),
        }
    }
}

impl fmt::Display for ContentType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ContentType::Protobuf => "protobuf",
            ContentType::Json => "json",
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use mesos_proto::v1::scheduler::{call, Call};
    use mesos_proto::v1::FrameworkId;

    #[test]
    fn both_encodings_round_trip() {
        let call = Call {
            framework_id: Some(FrameworkId {
                value: "fw-0000".into(),
            }),
            r#type: Some(call::Type::Teardown as i32),
            ..Default::default()
        };
        for ct in [ContentType::Protobuf, ContentType::Json] {
            let bytes = ct.encode(&call);
            assert_eq!(ct.decode::<Call>(&bytes).unwrap(), call, "{ct}");
        }
        let json = String::from_utf8(ContentType::Json.encode(&call)).unwrap();
        assert!(json.contains("\"TEARDOWN\""), "{json}");
        assert!(ContentType::Json.decode::<Call>(b"{not json").is_err());
    }

    #[test]
    fn parses_names_and_mime_types() {
        assert_eq!("json".parse(), Ok(ContentType::Json));
        assert_eq!("application/x-protobuf".parse(), Ok(ContentType::Protobuf));
        assert_eq!(
            ContentType::from_mime("application/json; charset=utf-8"),
            Some(ContentType::Json)
        );
        assert!("xml".parse::<ContentType>().is_err());
    }
}
