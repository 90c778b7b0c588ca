//! `#[derive(Capability)]`: a whole capability as an enum of its message types.

use proc_macro2::TokenStream;
use quote::{ToTokens, quote, quote_spanned};
use syn::{Data, DeriveInput, Fields, LitStr, spanned::Spanned};

struct Args {
    capability: Option<LitStr>,
    title: Option<LitStr>,
}

fn parse_args(input: &DeriveInput) -> syn::Result<Args> {
    let mut args = Args {
        capability: None,
        title: None,
    };
    for attr in input.attrs.iter().filter(|a| a.path().is_ident("aitp")) {
        attr.parse_nested_meta(|meta| {
            if meta.path.is_ident("capability") {
                if args.capability.is_some() {
                    return Err(meta.error("`capability` is given twice"));
                }
                let lit: LitStr = meta.value()?.parse()?;
                crate::capability_message::check_url(&lit)?;
                args.capability = Some(lit);
                Ok(())
            } else if meta.path.is_ident("title") {
                if args.title.is_some() {
                    return Err(meta.error("`title` is given twice"));
                }
                args.title = Some(meta.value()?.parse()?);
                Ok(())
            } else if meta.path.is_ident("key") {
                Err(meta.error(
                    "`key` belongs on each message type's #[derive(CapabilityMessage)], not on the \
                     capability: the enum collects messages that already have their keys",
                ))
            } else {
                Err(meta.error(
                    "unknown `aitp` argument of #[derive(Capability)]: expected \
                     `capability = \"<schema URL>\"` or `title = \"...\"`",
                ))
            }
        })?;
    }
    Ok(args)
}

/// The text of `///` comments: one leading space per line removed, lines joined, trimmed.
pub(crate) fn doc_text(attrs: &[syn::Attribute]) -> String {
    let mut lines = Vec::new();
    for attr in attrs.iter().filter(|a| a.path().is_ident("doc")) {
        if let syn::Meta::NameValue(nv) = &attr.meta {
            if let syn::Expr::Lit(syn::ExprLit {
                lit: syn::Lit::Str(s),
                ..
            }) = &nv.value
            {
                let v = s.value();
                for line in v.lines() {
                    lines.push(line.strip_prefix(' ').unwrap_or(line).trim_end().to_owned());
                }
            }
        }
    }
    lines.join("\n").trim().to_owned()
}

/// A type as written, for messages: `loyalty::RedeemPoints`, not `loyalty :: RedeemPoints`.
fn type_text(ty: &syn::Type) -> String {
    ty.to_token_stream()
        .to_string()
        .replace(" :: ", "::")
        .replace(":: ", "::")
        .replace(" <", "<")
        .replace("< ", "<")
        .replace(" >", ">")
        .replace(" ,", ",")
}

struct Variant<'a> {
    ident: &'a syn::Ident,
    ty: &'a syn::Type,
    doc: String,
}

pub(crate) fn expand(input: DeriveInput) -> syn::Result<TokenStream> {
    let name = &input.ident;
    if !input.generics.params.is_empty() {
        return Err(syn::Error::new_spanned(
            &input.generics,
            "#[derive(Capability)] does not support generic types: a capability is one fixed set \
             of message types",
        ));
    }
    let Data::Enum(data) = &input.data else {
        return Err(syn::Error::new(
            name.span(),
            "#[derive(Capability)] goes on an enum with one variant per message type, such as \
             `enum Loyalty { Redeem(RedeemPoints), Balance(PointsBalance) }`",
        ));
    };
    let args = parse_args(&input)?;
    if data.variants.is_empty() {
        return Err(syn::Error::new(
            name.span(),
            "a capability needs at least one message: add variants such as `Redeem(RedeemPoints)`",
        ));
    }

    let mut variants = Vec::new();
    let mut errors: Option<syn::Error> = None;
    let mut push_err = |e: syn::Error| match &mut errors {
        Some(all) => all.combine(e),
        None => errors = Some(e),
    };
    for v in &data.variants {
        let ty = match &v.fields {
            Fields::Unnamed(f) if f.unnamed.len() == 1 => &f.unnamed[0].ty,
            _ => {
                push_err(syn::Error::new_spanned(
                    v,
                    format!(
                        "each variant wraps exactly one message type, such as `{}(MyMessage)`",
                        v.ident
                    ),
                ));
                continue;
            }
        };
        if let Some((_, d)) = &v.discriminant {
            push_err(syn::Error::new_spanned(
                d,
                "variants of a capability carry a message, not a discriminant",
            ));
        }
        let text = type_text(ty);
        if let Some(prev) = variants
            .iter()
            .find(|p: &&Variant<'_>| type_text(p.ty) == text)
        {
            push_err(syn::Error::new_spanned(
                ty,
                format!(
                    "`{text}` is already the message of variant `{}`: each message type appears once",
                    prev.ident
                ),
            ));
            continue;
        }
        variants.push(Variant {
            ident: &v.ident,
            ty,
            doc: doc_text(&v.attrs),
        });
    }
    if let Some(e) = errors {
        return Err(e);
    }

    let first_ty = variants[0].ty;
    let url = match &args.capability {
        Some(lit) => quote!(#lit),
        None => quote!(<#first_ty as ::aitp::capability::CapabilityMessage>::SCHEMA_URL),
    };
    let title = args
        .title
        .as_ref()
        .map(LitStr::value)
        .unwrap_or_else(|| name.to_string());
    let description = doc_text(&input.attrs);
    let description = if description.is_empty() {
        quote!()
    } else {
        quote!(.description(#description))
    };

    // Compile-time checks, each reported at the offending variant's message type.
    let mut checks = Vec::new();
    for (i, v) in variants.iter().enumerate() {
        let ty = v.ty;
        let ty_text = type_text(ty);
        let url_msg = match &args.capability {
            Some(lit) => format!(
                "`{ty_text}` is a message of another capability: its #[aitp(capability = ...)] URL \
                 is not `{}`, the URL of `{name}`",
                lit.value()
            ),
            None => format!(
                "`{ty_text}` is a message of another capability than `{}`, the first message of \
                 `{name}`: all messages of a capability carry the same #[aitp(capability = ...)] URL",
                type_text(first_ty)
            ),
        };
        if i > 0 || args.capability.is_some() {
            checks.push(quote_spanned! {ty.span()=>
                #[allow(clippy::all, clippy::pedantic)]
                const _: () = if !::aitp::__private::str_eq(
                    <#ty as ::aitp::capability::CapabilityMessage>::SCHEMA_URL,
                    #url,
                ) {
                    ::core::panic!("{}", #url_msg)
                };
            });
        }
        for prev in &variants[..i] {
            let pty = prev.ty;
            let msg = format!(
                "`{ty_text}` travels under the same key as `{}` (variant `{}`): a capability cannot \
                 have two messages with one key",
                type_text(pty),
                prev.ident
            );
            checks.push(quote_spanned! {ty.span()=>
                #[allow(clippy::all, clippy::pedantic)]
                const _: () = if ::aitp::__private::str_eq(
                    <#ty as ::aitp::capability::CapabilityMessage>::KEY,
                    <#pty as ::aitp::capability::CapabilityMessage>::KEY,
                ) {
                    ::core::panic!("{}", #msg)
                };
            });
        }
    }

    let idents: Vec<_> = variants.iter().map(|v| v.ident).collect();
    let tys: Vec<_> = variants.iter().map(|v| v.ty).collect();
    let docs: Vec<_> = variants.iter().map(|v| v.doc.as_str()).collect();
    // Bounds on every generated impl, spanned at the variant: a type that is not a message is
    // reported once, there, instead of at each use inside the impls.
    let bounds: Vec<_> = tys
        .iter()
        .map(|ty| {
            quote_spanned! {ty.span()=>
                #ty: ::aitp::capability::CapabilityMessage + ::aitp::__private::schemars::JsonSchema
            }
        })
        .collect();

    Ok(quote! {
        #(#checks)*

        impl ::aitp::capability::Capability for #name where #(#bounds,)* {
            const SCHEMA_URL: &'static str = #url;
            const KEYS: &'static [&'static str] = &[
                #(<#tys as ::aitp::capability::CapabilityMessage>::KEY,)*
            ];

            fn id() -> &'static ::aitp::capability::CapabilityId {
                static ID: ::std::sync::OnceLock<::aitp::capability::CapabilityId> =
                    ::std::sync::OnceLock::new();
                ID.get_or_init(|| ::aitp::capability::CapabilityId::from_static(
                    <Self as ::aitp::capability::Capability>::SCHEMA_URL,
                ))
            }

            fn schema() -> ::aitp::__private::serde_json::Value {
                let mut doc = ::aitp::schema::CapabilitySchema::new(
                    <Self as ::aitp::capability::Capability>::SCHEMA_URL,
                )
                .title(#title)
                #description
                #(.message::<#tys>())*
                .build();
                ::aitp::__private::describe_branches(&mut doc, &[#(#docs),*]);
                doc
            }

            fn key(&self) -> &'static str {
                match self {
                    #(Self::#idents(_) => <#tys as ::aitp::capability::CapabilityMessage>::KEY,)*
                }
            }

            fn to_envelope(&self) -> ::aitp::capability::Envelope {
                match self {
                    #(Self::#idents(m) => ::aitp::capability::Envelope::from(m.clone()),)*
                }
            }

            fn from_envelope(
                message: &::aitp::capability::Envelope,
            ) -> ::core::option::Option<::core::result::Result<Self, ::aitp::capability::ParseError>> {
                #(
                    if let ::core::option::Option::Some(r) = message.message::<#tys>() {
                        return ::core::option::Option::Some(r.map(Self::#idents));
                    }
                )*
                ::core::option::Option::None
            }

            fn validate(&self) -> ::core::result::Result<(), ::aitp::validate::ValidationErrors> {
                match self {
                    #(Self::#idents(m) => ::aitp::capability::CapabilityMessage::validate(m),)*
                }
            }
        }

        #(
            impl ::core::convert::From<#tys> for #name {
                fn from(m: #tys) -> Self {
                    Self::#idents(m)
                }
            }
        )*

        impl ::core::convert::From<#name> for ::aitp::capability::Envelope where #(#bounds,)* {
            fn from(m: #name) -> Self {
                ::aitp::capability::Capability::to_envelope(&m)
            }
        }

    })
}
