//! `#[derive(CapabilityMessage)]`.

use proc_macro2::{Span, TokenStream};
use quote::quote;
use syn::{DeriveInput, LitStr, spanned::Spanned};

use crate::semver_check::version_segment;

struct Args {
    capability: LitStr,
    key: LitStr,
    validate: bool,
}

/// Checks that a `capability = "..."` value is an http(s) URL with a semver path segment.
pub(crate) fn check_url(lit: &LitStr) -> syn::Result<()> {
    let url = lit.value();
    if !(url.starts_with("https://") || url.starts_with("http://")) {
        return Err(syn::Error::new(
            lit.span(),
            "`capability` must be the capability's schema URL, starting with https://",
        ));
    }
    if version_segment(&url).is_none() {
        return Err(syn::Error::new(
            lit.span(),
            "the capability URL carries no semantic version: put a path segment \
             like `v1.0.0` in it (for example \
             `https://example.com/caps/points/v1.0.0/schema.json`)",
        ));
    }
    Ok(())
}

fn parse_args(input: &DeriveInput) -> syn::Result<Args> {
    let mut capability = None;
    let mut key: Option<LitStr> = None;
    let mut validate = false;
    let mut seen_attr = false;
    for attr in input.attrs.iter().filter(|a| a.path().is_ident("aitp")) {
        seen_attr = true;
        attr.parse_nested_meta(|meta| {
            if meta.path.is_ident("capability") {
                if capability.is_some() {
                    return Err(meta.error("`capability` is given twice"));
                }
                let lit: LitStr = meta.value()?.parse()?;
                check_url(&lit)?;
                capability = Some(lit);
                Ok(())
            } else if meta.path.is_ident("key") {
                if key.is_some() {
                    return Err(meta.error("`key` is given twice"));
                }
                let lit: LitStr = meta.value()?.parse()?;
                let k = lit.value();
                if k.is_empty() || k == "$schema" {
                    return Err(syn::Error::new(
                        lit.span(),
                        "`key` must be the message's top-level key, such as `redeem_points`",
                    ));
                }
                key = Some(lit);
                Ok(())
            } else if meta.path.is_ident("validate") {
                validate = true;
                Ok(())
            } else {
                Err(meta.error(
                    "unknown `aitp` argument: expected `capability = \"...\"`, `key = \"...\"` or `validate`",
                ))
            }
        })?;
    }
    if !seen_attr {
        return Err(syn::Error::new(
            Span::call_site(),
            "#[derive(CapabilityMessage)] needs `#[aitp(capability = \"<schema URL>\", key = \"<message key>\")]`",
        ));
    }
    let capability = capability.ok_or_else(|| {
        syn::Error::new(
            input.ident.span(),
            "missing `capability = \"<schema URL>\"` in #[aitp(...)]",
        )
    })?;
    let key = key.ok_or_else(|| {
        syn::Error::new(
            input.ident.span(),
            "missing `key = \"<message key>\"` in #[aitp(...)]: the top-level key this message travels under",
        )
    })?;
    Ok(Args {
        capability,
        key,
        validate,
    })
}

pub(crate) fn expand(input: DeriveInput) -> syn::Result<TokenStream> {
    if !input.generics.params.is_empty() {
        return Err(syn::Error::new(
            input.generics.span(),
            "#[derive(CapabilityMessage)] does not support generic types",
        ));
    }
    let args = parse_args(&input)?;
    let name = &input.ident;
    let capability = &args.capability;
    let key = &args.key;
    let inherent = if args.validate {
        quote! {
            impl #name {
                /// Checks what the capability's schema demands beyond what parsing enforced;
                /// error paths start with the message key.
                pub fn validate(&self) -> ::core::result::Result<(), ::aitp::validate::ValidationErrors> {
                    ::aitp::validate::Validate::validate_as(self, <Self as ::aitp::capability::CapabilityMessage>::KEY)
                }
            }
        }
    } else {
        quote! {}
    };
    let validate = if args.validate {
        quote! {
            fn validate(&self) -> ::core::result::Result<(), ::aitp::validate::ValidationErrors> {
                ::aitp::validate::Validate::validate_as(self, <Self as ::aitp::capability::CapabilityMessage>::KEY)
            }
        }
    } else {
        quote! {}
    };
    Ok(quote! {
        impl ::aitp::capability::CapabilityMessage for #name {
            const SCHEMA_URL: &'static str = #capability;
            const KEY: &'static str = #key;

            fn capability() -> &'static ::aitp::capability::CapabilityId {
                static ID: ::std::sync::OnceLock<::aitp::capability::CapabilityId> =
                    ::std::sync::OnceLock::new();
                ID.get_or_init(|| ::aitp::capability::CapabilityId::from_static(#capability))
            }

            #validate
        }

        #inherent
    })
}
