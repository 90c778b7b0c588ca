//! `#[derive(OpenDeserialize)]`: serde `Deserialize` for open objects, unknown keys kept.

use proc_macro2::TokenStream;
use quote::{format_ident, quote};
use syn::{Data, DeriveInput, Fields, LitStr, ext::IdentExt, spanned::Spanned};

struct Field {
    ident: syn::Ident,
    ty: syn::Type,
    key: String,
    default: bool,
    with: Option<syn::Path>,
}

/// What a field's `#[serde(...)]` says: rename, flatten, default, deserialize_with.
type Attrs = (Option<String>, bool, bool, Option<syn::Path>);

fn serde_field_attrs(field: &syn::Field) -> syn::Result<Attrs> {
    let mut rename = None;
    let mut flatten = false;
    let mut default = false;
    let mut with = None;
    for attr in field.attrs.iter().filter(|a| a.path().is_ident("serde")) {
        attr.parse_nested_meta(|meta| {
            if meta.path.is_ident("rename") {
                let lit: LitStr = meta.value()?.parse()?;
                rename = Some(lit.value());
            } else if meta.path.is_ident("flatten") {
                flatten = true;
            } else if meta.path.is_ident("default") {
                default = true;
            } else if meta.path.is_ident("deserialize_with") {
                let lit: LitStr = meta.value()?.parse()?;
                with = Some(lit.parse()?);
            } else if meta.path.is_ident("skip_serializing_if")
                || meta.path.is_ident("serialize_with")
            {
                // Serialisation-only: consume the value.
                let _: LitStr = meta.value()?.parse()?;
            } else {
                return Err(meta.error(
                    "OpenDeserialize understands only `rename`, `flatten`, `default`, \
                     `deserialize_with`, `skip_serializing_if` and `serialize_with`",
                ));
            }
            Ok(())
        })?;
    }
    Ok((rename, flatten, default, with))
}

pub(crate) fn expand(input: DeriveInput) -> syn::Result<TokenStream> {
    let name = &input.ident;
    if !input.generics.params.is_empty() {
        return Err(syn::Error::new(
            input.generics.span(),
            "OpenDeserialize does not support generic types",
        ));
    }
    let Data::Struct(data) = &input.data else {
        return Err(syn::Error::new(
            input.ident.span(),
            "OpenDeserialize works on structs with named fields",
        ));
    };
    let Fields::Named(named) = &data.fields else {
        return Err(syn::Error::new(
            input.ident.span(),
            "OpenDeserialize works on structs with named fields",
        ));
    };

    let mut fields = Vec::new();
    let mut extra: Option<syn::Ident> = None;
    for f in &named.named {
        let ident = f.ident.clone().expect("named field");
        let (rename, flatten, default, with) = serde_field_attrs(f)?;
        if flatten {
            if extra.is_some() {
                return Err(syn::Error::new(
                    f.span(),
                    "only one #[serde(flatten)] field (the map of unknown fields) is allowed",
                ));
            }
            extra = Some(ident);
            continue;
        }
        let key = rename.unwrap_or_else(|| ident.unraw().to_string());
        fields.push(Field {
            ident,
            ty: f.ty.clone(),
            key,
            default,
            with,
        });
    }
    let Some(extra) = extra else {
        return Err(syn::Error::new(
            input.ident.span(),
            "OpenDeserialize needs one `#[serde(flatten)] extra: serde_json::Map<String, serde_json::Value>` \
             field to keep unknown keys",
        ));
    };

    let variants: Vec<_> = (0..fields.len()).map(|i| format_ident!("F{}", i)).collect();
    let keys: Vec<_> = fields.iter().map(|f| f.key.as_str()).collect();
    let slots: Vec<_> = (0..fields.len())
        .map(|i| format_ident!("__slot{}", i))
        .collect();
    let idents: Vec<_> = fields.iter().map(|f| &f.ident).collect();
    let tys: Vec<_> = fields.iter().map(|f| &f.ty).collect();
    // How each value is read: its type's `Deserialize`, or the `deserialize_with` function
    // through a local newtype (serde's own expansion of the attribute).
    let reads: Vec<_> = fields
        .iter()
        .map(|f| {
            let ty = &f.ty;
            match &f.with {
                None => quote! { map.next_value::<#ty>()? },
                Some(path) => quote! {{
                    struct __With(#ty);
                    impl<'de> __serde::Deserialize<'de> for __With {
                        fn deserialize<__D: __serde::Deserializer<'de>>(d: __D) -> ::core::result::Result<Self, __D::Error> {
                            #path(d).map(__With)
                        }
                    }
                    map.next_value::<__With>()?.0
                }},
            }
        })
        .collect();
    let finish: Vec<_> = fields
        .iter()
        .zip(&slots)
        .map(|(f, slot)| {
            let key = &f.key;
            let ty = &f.ty;
            if f.default {
                quote! { #slot.unwrap_or_default() }
            } else {
                quote! {
                    match #slot {
                        ::core::option::Option::Some(v) => v,
                        ::core::option::Option::None =>
                            ::aitp::__private::missing_field::<#ty, __A::Error>(#key)?,
                    }
                }
            }
        })
        .collect();
    let expecting = format!("a JSON object ({name})");

    Ok(quote! {
        const _: () = {
            use ::aitp::__private::serde as __serde;

            #[allow(non_camel_case_types)]
            enum __Field { #(#variants,)* __Other(::std::string::String) }

            struct __FieldVisitor;
            impl<'de> __serde::de::Visitor<'de> for __FieldVisitor {
                type Value = __Field;
                fn expecting(&self, f: &mut ::core::fmt::Formatter<'_>) -> ::core::fmt::Result {
                    f.write_str("a field name")
                }
                fn visit_str<E: __serde::de::Error>(self, v: &str) -> ::core::result::Result<__Field, E> {
                    ::core::result::Result::Ok(match v {
                        #(#keys => __Field::#variants,)*
                        other => __Field::__Other(::std::string::ToString::to_string(other)),
                    })
                }
                fn visit_string<E: __serde::de::Error>(self, v: ::std::string::String) -> ::core::result::Result<__Field, E> {
                    ::core::result::Result::Ok(match v.as_str() {
                        #(#keys => __Field::#variants,)*
                        _ => __Field::__Other(v),
                    })
                }
            }
            impl<'de> __serde::Deserialize<'de> for __Field {
                fn deserialize<__D: __serde::Deserializer<'de>>(d: __D) -> ::core::result::Result<Self, __D::Error> {
                    d.deserialize_identifier(__FieldVisitor)
                }
            }

            struct __Visitor;
            impl<'de> __serde::de::Visitor<'de> for __Visitor {
                type Value = #name;
                fn expecting(&self, f: &mut ::core::fmt::Formatter<'_>) -> ::core::fmt::Result {
                    f.write_str(#expecting)
                }
                fn visit_map<__A: __serde::de::MapAccess<'de>>(self, mut map: __A) -> ::core::result::Result<#name, __A::Error> {
                    #(let mut #slots: ::core::option::Option<#tys> = ::core::option::Option::None;)*
                    let mut __extra = ::aitp::__private::serde_json::Map::new();
                    while let ::core::option::Option::Some(key) = map.next_key::<__Field>()? {
                        match key {
                            #(__Field::#variants => {
                                if #slots.is_some() {
                                    return ::core::result::Result::Err(
                                        <__A::Error as __serde::de::Error>::duplicate_field(#keys));
                                }
                                #slots = ::core::option::Option::Some(#reads);
                            })*
                            __Field::__Other(k) => {
                                let v = map.next_value::<::aitp::__private::serde_json::Value>()?;
                                if __extra.insert(k.clone(), v).is_some() {
                                    return ::core::result::Result::Err(
                                        <__A::Error as __serde::de::Error>::custom(
                                            ::core::format_args!("duplicate field `{}`", k)));
                                }
                            }
                        }
                    }
                    ::core::result::Result::Ok(#name {
                        #(#idents: #finish,)*
                        #extra: __extra,
                    })
                }
            }

            impl<'de> __serde::Deserialize<'de> for #name {
                fn deserialize<__D: __serde::Deserializer<'de>>(d: __D) -> ::core::result::Result<Self, __D::Error> {
                    d.deserialize_map(__Visitor)
                }
            }
        };
    })
}
