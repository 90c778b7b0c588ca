//! Support for macro-generated code. Not public API.

pub use schemars;
pub use serde;
pub use serde_json;

pub use crate::agent::args::into_replies;
pub use crate::capability::definition::{describe_branches, str_eq};
pub use crate::capability::registry::BuiltIn;

use serde::de::{self, Deserializer, Visitor};

/// The value of a field absent from the input: `None` for `Option`, an error otherwise.
///
/// Works like serde's own handling of missing fields, without depending on its private API.
pub fn missing_field<'de, T, E>(field: &'static str) -> Result<T, E>
where
    T: de::Deserialize<'de>,
    E: de::Error,
{
    T::deserialize(MissingField::<E>(field, std::marker::PhantomData))
}

struct MissingField<E>(&'static str, std::marker::PhantomData<E>);

impl<'de, E: de::Error> Deserializer<'de> for MissingField<E> {
    type Error = E;

    fn deserialize_any<V: Visitor<'de>>(self, _visitor: V) -> Result<V::Value, E> {
        Err(E::missing_field(self.0))
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, E> {
        visitor.visit_none()
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string
        bytes byte_buf unit unit_struct newtype_struct seq tuple
        tuple_struct map struct enum identifier ignored_any
    }
}
