//! The macro that turns the one declaration of the built-in capabilities into code.
//!
//! The declaration itself is the `registry!` invocation in the capability module's root
//! (`capability/mod.rs`), which sits above every message module: it names their types, and no
//! message module refers back to it. From it come [`AitpCapability`](super::AitpCapability)
//! (with its slug, URL, title and message keys), `AitpCapability::ALL` and
//! [`ALL_V1`](super::ALL_V1), the per-capability enums ([`Decisions`](super::Decisions), …) and
//! with them the official `schema.json` documents, [`Body`](super::Body) and its typed variants,
//! and which capability a message key belongs to. Adding a built-in capability is one entry in
//! that declaration plus its message types (each deriving `CapabilityMessage` with `builtin`); a
//! compile-time check keeps each type's `#[aitp(capability = …)]` equal to the URL declared there.
//!
//! This file holds only the macro, so it depends on nothing: every path in it is resolved where
//! it is invoked.

/// Declares the built-in capabilities; see the module documentation for what it derives.
///
/// Per capability: its doc comment (used for the [`AitpCapability`] variant, the capability
/// enum and the `description` of its schema), the enum's name (also the variant's), `slug`,
/// canonical `url`, `major` version, `title`, whether its schema closes the message root
/// (`closed_root`), whether it is a `legacy` capability (left out of `ALL_V1`), and its messages
/// as `EnumVariant => BodyVariant(Type)`, each with its doc comment.
macro_rules! registry {
    ($(
        $(#[$cdoc:meta])*
        $cap:ident {
            slug: $slug:literal,
            url: $url:literal,
            major: $major:literal,
            title: $title:literal,
            closed_root: $closed:literal,
            legacy: $legacy:literal,
            messages: {
                $( $(#[$mdoc:meta])* $variant:ident => $body:ident($ty:ty), )*
            }
        }
    )*) => {
        /// How a built-in message type maps to its [`Body`] variant: implemented by `registry!` for
        /// each built-in type and called by the `CapabilityMessage` impls the derive writes for them
        /// (`#[aitp(builtin)]`), so that generic code moves messages in and out of a [`Body`] without
        /// looking at their types at run time.
        #[doc(hidden)]
        pub trait BuiltIn: Sized {
            /// The message as its own variant.
            fn into_body(self) -> Body;
            /// The message out of its own variant; any other body comes back.
            // The `Err` is the body itself, handed back unmoved.
            #[allow(clippy::result_large_err)]
            fn from_body(body: Body) -> Result<Self, Body>;
            /// The message in its own variant, borrowed.
            fn body_ref(body: &Body) -> Option<&Self>;
        }

        /// Reads `raw` as a `T` body, with the JSON path of the first misfit on error.
        fn parse_body<T: CapabilityMessage>(raw: &str, slug: &'static str) -> Result<T, ParseError> {
            match serde_json::from_str::<T>(raw) {
                Ok(t) => Ok(t),
                Err(_) => {
                    // Slow path, errors only: parse again to learn where it failed.
                    let mut de = serde_json::Deserializer::from_str(raw);
                    let (path, error) = match serde_path_to_error::deserialize::<_, T>(&mut de) {
                        Ok(_) => (
                            String::new(),
                            <serde_json::Error as serde::de::Error>::custom("inconsistent parse"),
                        ),
                        Err(e) => (e.path().to_string(), e.into_inner()),
                    };
                    let path = if path.is_empty() || path == "." {
                        T::KEY.to_owned()
                    } else {
                        format!("{}.{}", T::KEY, path)
                    };
                    Err(ParseError::Body {
                        key: T::KEY.to_owned(),
                        capability: slug,
                        path,
                        error,
                    })
                }
            }
        }

        /// The capabilities defined by the AITP specification, plus the legacy one NEAR AI used.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        #[non_exhaustive]
        pub enum AitpCapability {
            $( $(#[$cdoc])* $cap, )*
        }

        const COUNT: usize = [$( stringify!($cap) ),*].len();
        const LEGACY: [bool; COUNT] = [$( $legacy ),*];
        const CURRENT: usize = {
            let mut n = 0;
            let mut i = 0;
            while i < COUNT {
                if !LEGACY[i] {
                    n += 1;
                }
                i += 1;
            }
            n
        };

        /// The schema URLs of every current (not legacy) AITP capability this crate implements,
        /// at v1.0.0: what an agent or client declares to support all of them.
        pub const ALL_V1: [&str; CURRENT] = {
            let urls = [$( $url ),*];
            let mut out = [""; CURRENT];
            let (mut i, mut j) = (0, 0);
            while i < COUNT {
                if !LEGACY[i] {
                    out[j] = urls[i];
                    j += 1;
                }
                i += 1;
            }
            out
        };

        // The declared URL is the canonical one for the slug and major version, and every
        // message type carries it.
        $(
            const _: () = assert!(
                $crate::capability::definition::str_eq(
                    $url,
                    concat!("https://aitp.dev/capabilities/", $slug, "/v", $major, ".0.0/schema.json"),
                ),
                concat!("the URL declared for ", stringify!($cap), " is not its canonical one"),
            );
            $(
                const _: () = assert!(
                    $crate::capability::definition::str_eq(<$ty as CapabilityMessage>::SCHEMA_URL, $url),
                    concat!(stringify!($ty), " does not carry the URL of ", stringify!($cap)),
                );
            )*
        )*

        impl AitpCapability {
            /// Every capability, in spec order (the legacy one last).
            pub const ALL: [AitpCapability; COUNT] = [$( Self::$cap ),*];

            /// The path segment of the canonical URL, such as `aitp-02-decisions`.
            pub fn slug(self) -> &'static str {
                match self {
                    $( Self::$cap => $slug, )*
                }
            }

            /// The canonical schema URL of the version this crate implements.
            pub fn url(self) -> &'static str {
                match self {
                    $( Self::$cap => $url, )*
                }
            }

            /// The title of its schema document, such as `AITP-02 Decisions`.
            pub fn title(self) -> &'static str {
                match self {
                    $( Self::$cap => $title, )*
                }
            }

            /// The message keys the capability defines, in declaration order.
            pub fn message_keys(self) -> &'static [&'static str] {
                match self {
                    $( Self::$cap => <$cap as $crate::capability::Capability>::KEYS, )*
                }
            }

            /// Whether its schema admits only `$schema` and the message key at the root of a
            /// message (AITP-01, AITP-04, AITP-05 and legacy Transactions do; AITP-02/03 do not).
            pub fn closes_root(self) -> bool {
                match self {
                    $( Self::$cap => $closed, )*
                }
            }

            /// Whether this is a legacy capability (not in [`ALL_V1`](ALL_V1)).
            pub fn is_legacy(self) -> bool {
                match self {
                    $( Self::$cap => $legacy, )*
                }
            }

            /// The capability's generated `schema.json` (the version this crate implements).
            pub fn schema(self) -> Value {
                match self {
                    $( Self::$cap => <$cap as $crate::capability::Capability>::schema(), )*
                }
            }

            pub(crate) fn from_slug(slug: &str) -> Option<Self> {
                Self::ALL.into_iter().find(|c| c.slug() == slug)
            }
        }

        $(
            $(#[$cdoc])*
            ///
            /// As a type: any of its messages, and its `schema.json`
            /// ([`Capability::schema`](crate::capability::Capability::schema)).
            #[derive(Debug, Clone, PartialEq, crate::Capability)]
            #[aitp(capability = $url, title = $title)]
            #[non_exhaustive]
            pub enum $cap {
                $( $(#[$mdoc])* $variant($ty), )*
            }
        )*

        /// The body of a capability message: one typed variant per message type this crate
        /// implements, and [`Body::Unknown`] for every other capability.
        #[derive(Debug, Clone, PartialEq)]
        #[non_exhaustive]
        pub enum Body {
            $( $( $(#[$mdoc])* $body($ty), )* )*
            /// A message of a capability (or a message type) this crate does not know; kept as
            /// received so it can be passed through unchanged.
            Unknown {
                /// The message key.
                key: String,
                /// The body.
                body: Value,
            },
        }

        impl Body {
            /// The message key, such as `request_decision`.
            pub fn key(&self) -> &str {
                match self {
                    $( $( Self::$body(_) => <$ty as CapabilityMessage>::KEY, )* )*
                    Self::Unknown { key, .. } => key,
                }
            }

            /// The AITP capability of a typed variant; `None` for [`Body::Unknown`].
            pub fn aitp_capability(&self) -> Option<AitpCapability> {
                match self {
                    $( $( Self::$body(_) => Some(AitpCapability::$cap), )* )*
                    Self::Unknown { .. } => None,
                }
            }

            /// Checks the body against its schema (typed variants only).
            pub fn validate(&self) -> Result<(), $crate::validate::ValidationErrors> {
                match self {
                    $( $( Self::$body(m) => CapabilityMessage::validate(m), )* )*
                    Self::Unknown { .. } => Ok(()),
                }
            }

            /// The body as a JSON value (for reading it as another type).
            pub(crate) fn to_value(&self) -> Value {
                match self {
                    $( $( Self::$body(m) => serde_json::to_value(m).unwrap_or(Value::Null), )* )*
                    Self::Unknown { body, .. } => body.clone(),
                }
            }

            pub(crate) fn serialize_entry<S: SerializeMap>(&self, map: &mut S) -> Result<(), S::Error> {
                match self {
                    $( $( Self::$body(m) => map.serialize_entry(<$ty as CapabilityMessage>::KEY, m), )* )*
                    Self::Unknown { key, body } => map.serialize_entry(key, body),
                }
            }

            /// Parses `raw` as the body of `key` in `cap`; `None` when `cap` has no such key.
            pub(crate) fn parse_typed(
                cap: AitpCapability,
                key: &str,
                raw: &str,
            ) -> Option<Result<Body, ParseError>> {
                match cap {
                    $(
                        AitpCapability::$cap => $(
                            if key == <$ty as CapabilityMessage>::KEY {
                                Some(parse_body::<$ty>(raw, $slug).map(Self::$body))
                            } else
                        )* { None },
                    )*
                }
            }
        }

        $( $(
            impl From<$ty> for Body {
                fn from(m: $ty) -> Self {
                    Self::$body(m)
                }
            }

            impl BuiltIn for $ty {
                fn into_body(self) -> Body {
                    Body::$body(self)
                }
                fn from_body(body: Body) -> Result<Self, Body> {
                    match body {
                        Body::$body(m) => Ok(m),
                        other => Err(other),
                    }
                }
                fn body_ref(body: &Body) -> Option<&Self> {
                    match body {
                        Body::$body(m) => Some(m),
                        _ => None,
                    }
                }
            }
        )* )*
    };
}
