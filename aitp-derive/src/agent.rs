//! `#[aitp::agent]` on an impl block, with `#[aitp::handler]`, `#[aitp::on_text]` and
//! `#[aitp::fallback]` on its methods: generates `From<Agent> for Router<Arc<Agent>>` and
//! `router()`, built with the public `aitp::agent::Router` API.

use proc_macro2::{Span, TokenStream};
use quote::{format_ident, quote, quote_spanned};
use syn::{
    Attribute, FnArg, ImplItem, ImplItemFn, Item, ItemImpl, LitBool, LitStr, ReturnType, Type,
    spanned::Spanned,
};

#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    Handler,
    Text,
    Fallback,
}

impl Kind {
    pub(crate) fn attr(self) -> &'static str {
        match self {
            Self::Handler => "#[aitp::handler]",
            Self::Text => "#[aitp::on_text]",
            Self::Fallback => "#[aitp::fallback]",
        }
    }
}

#[derive(Default)]
struct Args {
    actor_id: Option<LitStr>,
    validate_incoming: Option<LitBool>,
}

fn parse_args(attr: TokenStream) -> syn::Result<Args> {
    let mut args = Args::default();
    let parser = syn::meta::parser(|meta| {
        if meta.path.is_ident("actor_id") {
            if args.actor_id.is_some() {
                return Err(meta.error("`actor_id` is given twice"));
            }
            args.actor_id = Some(meta.value()?.parse()?);
            Ok(())
        } else if meta.path.is_ident("validate_incoming") {
            if args.validate_incoming.is_some() {
                return Err(meta.error("`validate_incoming` is given twice"));
            }
            args.validate_incoming = Some(meta.value()?.parse()?);
            Ok(())
        } else {
            Err(meta.error(
                "unknown #[aitp::agent] argument: expected `actor_id = \"...\"` or \
                 `validate_incoming = false`",
            ))
        }
    });
    syn::parse::Parser::parse2(parser, attr)?;
    Ok(args)
}

/// Which marker, if any, an attribute is: `handler`, `aitp::handler`, `::aitp::handler` …
fn marker(attr: &Attribute) -> Option<Kind> {
    let path = attr.path();
    let segs: Vec<String> = path.segments.iter().map(|s| s.ident.to_string()).collect();
    let name = match segs.as_slice() {
        [one] if path.leading_colon.is_none() => one.as_str(),
        [crate_name, one] if crate_name == "aitp" => one.as_str(),
        _ => return None,
    };
    match name {
        "handler" => Some(Kind::Handler),
        "on_text" => Some(Kind::Text),
        "fallback" => Some(Kind::Fallback),
        _ => None,
    }
}

struct Errors(Option<syn::Error>);

impl Errors {
    fn push(&mut self, e: syn::Error) {
        match &mut self.0 {
            Some(all) => all.combine(e),
            None => self.0 = Some(e),
        }
    }
}

/// Removes the marker attributes of `attrs`, returning the markers found (kind, attribute).
fn take_markers(attrs: &mut Vec<Attribute>) -> Vec<(Kind, Attribute)> {
    let mut found = Vec::new();
    attrs.retain(|a| match marker(a) {
        Some(k) => {
            found.push((k, a.clone()));
            false
        }
        None => true,
    });
    found
}

struct Route {
    kind: Kind,
    tokens: TokenStream,
}

fn route(kind: Kind, self_ty: &Type, f: &ImplItemFn, errors: &mut Errors) -> Option<Route> {
    let sig = &f.sig;
    let name = &sig.ident;
    let mut ok = true;
    let mut fail = |e: syn::Error| {
        errors.push(e);
        ok = false;
    };
    if !sig.generics.params.is_empty() || sig.generics.where_clause.is_some() {
        fail(syn::Error::new_spanned(
            &sig.generics,
            format!(
                "{} methods cannot be generic: the argument types pick the route, so they must \
                 be concrete",
                kind.attr()
            ),
        ));
    }
    if let Some(u) = &sig.unsafety {
        fail(syn::Error::new(
            u.span,
            format!("{} methods cannot be `unsafe`", kind.attr()),
        ));
    }
    if let Some(v) = &sig.variadic {
        fail(syn::Error::new_spanned(
            v,
            "variadic methods are not supported",
        ));
    }
    let mut has_self = false;
    let mut tys: Vec<&Type> = Vec::new();
    for arg in &sig.inputs {
        match arg {
            FnArg::Receiver(r) => {
                if r.reference.is_some() && r.mutability.is_none() && r.colon_token.is_none() {
                    has_self = true;
                } else {
                    fail(syn::Error::new_spanned(
                        r,
                        "agent methods take `&self`: the agent is shared by every thread it \
                         serves (as `Arc<Self>`), so it cannot be taken by value or mutably; \
                         keep mutable data behind a `Mutex` or in a store",
                    ));
                }
            }
            FnArg::Typed(pt) => {
                match &*pt.ty {
                    Type::Reference(r) => fail(syn::Error::new_spanned(
                        r,
                        "arguments of agent methods are taken by value: write the type without `&` \
                         (extractors such as `ThreadCtx` are cheap to clone)",
                    )),
                    Type::ImplTrait(t) => fail(syn::Error::new_spanned(
                        t,
                        "`impl Trait` arguments are generic: name the argument's type (the \
                         payload's type picks the route)",
                    )),
                    _ => {}
                }
                tys.push(&pt.ty);
            }
        }
    }
    let Some((payload_ty, extractor_tys)) = tys.split_last() else {
        fail(syn::Error::new(
            name.span(),
            format!(
                "{} method `{name}` has no payload: its last argument is the {} it answers, \
                 after any extractors (`ThreadCtx`, `Principal`, ...)",
                kind.attr(),
                match kind {
                    Kind::Handler => "capability message (such as `decision: Decision`)",
                    Kind::Text => "text (`text: String`)",
                    Kind::Fallback => "message (`message: Envelope`)",
                }
            ),
        ));
        return None;
    };
    if extractor_tys.len() > 7 {
        fail(syn::Error::new_spanned(
            extractor_tys[7],
            "an agent method takes at most seven extractors before its payload: group them \
             in a type of your own implementing `FromTurn`",
        ));
    }
    if !ok {
        return None;
    }

    // Extractors: each argument before the last, taken with `FromTurn` (spanned at its type, so
    // a payload that is not last is reported where it stands).
    let vars: Vec<_> = (0..tys.len())
        .map(|i| format_ident!("__aitp_arg{}", i))
        .collect();
    let (payload_var, extractor_vars) = vars.split_last().expect("one argument at least");
    let extracts = extractor_tys.iter().zip(extractor_vars).map(|(ty, var)| {
        quote_spanned! {ty.span()=>
            let #var: #ty = <#ty as ::aitp::agent::FromTurn<::std::sync::Arc<#self_ty>>>::from_turn(
                &__aitp_cx, &__aitp_agent);
        }
    });
    let call = if has_self {
        quote!(__aitp_agent.#name(#(#vars),*))
    } else {
        quote!(<#self_ty>::#name(#(#vars),*))
    };
    let call = if sig.asyncness.is_some() {
        quote!(#call.await)
    } else {
        call
    };
    let ret_span = match &sig.output {
        ReturnType::Type(_, ty) => ty.span(),
        ReturnType::Default => name.span(),
    };
    // Spanned at the return type: that is where a value that is not `IntoReplies` comes from.
    let replies = quote_spanned! {ret_span=>
        let __aitp_out = #call;
        ::aitp::__private::into_replies(__aitp_out)
    };
    // The payload, last: its type picks the route; checked (spanned at its type) against what
    // the marker takes.
    let (received, take, register) = match kind {
        Kind::Handler => (
            quote!(#payload_ty),
            quote!(__aitp_payload),
            quote_spanned!(payload_ty.span()=>
                ::aitp::__private::handler::<_, #payload_ty, _, _>),
        ),
        Kind::Text => (
            quote!(::std::string::String),
            quote_spanned!(payload_ty.span()=>
                <#payload_ty as ::aitp::__private::TextPayload>::from_text(__aitp_payload)),
            quote!(::aitp::agent::Router::on_text),
        ),
        Kind::Fallback => (
            quote!(::aitp::capability::Envelope),
            quote_spanned!(payload_ty.span()=>
                <#payload_ty as ::aitp::__private::FallbackPayload>::from_envelope(__aitp_payload)),
            quote!(::aitp::agent::Router::fallback),
        ),
    };
    let tokens = quote! {
        let __aitp_router = #register(
            __aitp_router,
            move |__aitp_cx: ::aitp::agent::ThreadCtx,
                  __aitp_state: ::aitp::agent::State<::std::sync::Arc<#self_ty>>,
                  __aitp_payload: #received| {
                let __aitp_agent: ::std::sync::Arc<#self_ty> = __aitp_state.0;
                #(#extracts)*
                let #payload_var: #payload_ty = #take;
                async move { #replies }
            },
        );
    };
    Some(Route { kind, tokens })
}

pub(crate) fn expand(attr: TokenStream, item: TokenStream) -> TokenStream {
    let mut errors = Errors(None);
    let args = parse_args(attr).unwrap_or_else(|e| {
        errors.push(e);
        Args::default()
    });
    let mut imp: ItemImpl = match syn::parse2::<Item>(item.clone()) {
        Ok(Item::Impl(imp)) => imp,
        Ok(other) => {
            let e = syn::Error::new(
                item_name_span(&other),
                "#[aitp::agent] goes on the impl block of your agent type, holding its handler \
                 methods: `#[aitp::agent] impl Shop { #[aitp::handler] async fn ... }`",
            );
            let mut out = e.into_compile_error();
            out.extend(item);
            return out;
        }
        Err(e) => return e.into_compile_error(),
    };

    if let Some((_, path, _)) = &imp.trait_ {
        errors.push(syn::Error::new_spanned(
            path,
            "#[aitp::agent] goes on an inherent impl block (`impl Shop { ... }`), not on a trait \
             implementation",
        ));
    }
    if !imp.generics.params.is_empty() {
        errors.push(syn::Error::new_spanned(
            &imp.generics,
            "#[aitp::agent] does not support generic agent types: the router's state is \
             `Arc<Self>` of one concrete type (wrap a generic agent in a concrete type, or build \
             the `Router` by hand)",
        ));
    }

    let mut routes = Vec::new();
    let mut user_router = false;
    let mut user_actor_id: Option<bool> = None; // Some(has_receiver)
    let mut text_seen: Option<String> = None;
    let mut fallback_seen: Option<String> = None;
    for item in &mut imp.items {
        match item {
            ImplItem::Fn(f) => {
                let markers = take_markers(&mut f.attrs);
                if markers.is_empty() {
                    if f.sig.ident == "router" {
                        user_router = true;
                    }
                    if f.sig.ident == "actor_id" {
                        user_actor_id = Some(f.sig.receiver().is_some());
                    }
                    continue;
                }
                let mut bad = false;
                for (kind, attr) in &markers {
                    if !matches!(attr.meta, syn::Meta::Path(_)) {
                        errors.push(syn::Error::new_spanned(
                            &attr.meta,
                            format!(
                                "{} takes no arguments: the payload argument's type picks the route",
                                kind.attr()
                            ),
                        ));
                        bad = true;
                    }
                }
                if let Some((second, attr)) = markers.get(1) {
                    errors.push(syn::Error::new_spanned(
                        attr,
                        format!(
                            "a method has one role: it is already marked {}, so it cannot also be {}",
                            markers[0].0.attr(),
                            second.attr()
                        ),
                    ));
                    bad = true;
                }
                let (kind, attr) = &markers[0];
                let seen = match kind {
                    Kind::Text => Some(&mut text_seen),
                    Kind::Fallback => Some(&mut fallback_seen),
                    Kind::Handler => None,
                };
                if let Some(seen) = seen {
                    match seen {
                        Some(first) => {
                            errors.push(syn::Error::new_spanned(
                                attr,
                                format!(
                                    "an agent has one {} method, and `{first}` already is it",
                                    kind.attr()
                                ),
                            ));
                            bad = true;
                        }
                        None => *seen = Some(f.sig.ident.to_string()),
                    }
                }
                if bad {
                    continue;
                }
                if let Some(r) = route(*kind, &imp.self_ty, f, &mut errors) {
                    routes.push(r);
                }
            }
            other => {
                let (attrs, what) = match other {
                    ImplItem::Const(c) => (&mut c.attrs, "an associated constant"),
                    ImplItem::Type(t) => (&mut t.attrs, "an associated type"),
                    ImplItem::Macro(m) => (&mut m.attrs, "a macro invocation"),
                    _ => continue,
                };
                for (kind, attr) in take_markers(attrs) {
                    errors.push(syn::Error::new_spanned(
                        attr,
                        format!("{} marks a method (`fn`), and this is {what}", kind.attr()),
                    ));
                }
            }
        }
    }

    if let (Some(lit), Some(_)) = (&args.actor_id, user_actor_id) {
        errors.push(syn::Error::new(
            lit.span(),
            "the actor id is given twice: by `actor_id = \"...\"` here and by the `fn actor_id` \
             of the impl block; keep one",
        ));
    }

    if let Some(e) = errors.0 {
        let mut out = e.into_compile_error();
        out.extend(quote!(#imp));
        return out;
    }

    let self_ty = &imp.self_ty;
    let actor_id = match (&args.actor_id, user_actor_id) {
        (Some(lit), _) => quote!(let __aitp_router = __aitp_router.actor_id(#lit);),
        (None, Some(true)) => {
            quote!(let __aitp_router = __aitp_router.actor_id(<#self_ty>::actor_id(&__aitp_agent));)
        }
        (None, Some(false)) => {
            quote!(let __aitp_router = __aitp_router.actor_id(<#self_ty>::actor_id());)
        }
        (None, None) => quote!(),
    };
    let validate = args
        .validate_incoming
        .as_ref()
        .map(|b| quote!(let __aitp_router = __aitp_router.validate_incoming(#b);));
    // Text and fallback first, then handlers in source order (order does not matter to the
    // router; this only keeps the expansion readable).
    let mut ordered: Vec<&Route> = routes.iter().filter(|r| r.kind != Kind::Handler).collect();
    ordered.extend(routes.iter().filter(|r| r.kind == Kind::Handler));
    let route_tokens = ordered.iter().map(|r| &r.tokens);

    let router_fn = if user_router {
        quote!()
    } else {
        quote! {
            /// The agent's router, built by `#[aitp::agent]`: one route per marked method,
            /// declaring the capabilities of its handlers. Serve it with
            /// `aitp::server::Server::new(agent.router(), store)`.
            #[allow(dead_code)]
            pub fn router(self) -> ::aitp::agent::Router<::std::sync::Arc<Self>> {
                Self::__aitp_router(self)
            }
        }
    };

    // Built in an inherent impl, where `Self` is the agent type as in the user's signatures.
    quote! {
        #imp

        #[automatically_derived]
        impl #self_ty {
            #[allow(clippy::all, clippy::pedantic)]
            fn __aitp_router(self) -> ::aitp::agent::Router<::std::sync::Arc<Self>> {
                let __aitp_agent = ::std::sync::Arc::new(self);
                let __aitp_router =
                    ::aitp::agent::Router::with_state(::std::sync::Arc::clone(&__aitp_agent));
                #actor_id
                #validate
                #(#route_tokens)*
                __aitp_router
            }

            #router_fn
        }

        #[automatically_derived]
        impl ::core::convert::From<#self_ty> for ::aitp::agent::Router<::std::sync::Arc<#self_ty>> {
            fn from(agent: #self_ty) -> Self {
                <#self_ty>::__aitp_router(agent)
            }
        }
    }
}

fn item_name_span(item: &Item) -> Span {
    match item {
        Item::Struct(s) => s.ident.span(),
        Item::Enum(e) => e.ident.span(),
        Item::Fn(f) => f.sig.ident.span(),
        Item::Trait(t) => t.ident.span(),
        Item::Mod(m) => m.ident.span(),
        other => other.span(),
    }
}

/// `#[aitp::handler]` & co. outside an `#[aitp::agent]` impl block: an error saying where they
/// belong, with the item kept so that the rest of the crate still compiles.
pub(crate) fn stray_marker(kind: Kind, item: TokenStream) -> TokenStream {
    let span = match syn::parse2::<Item>(item.clone()) {
        Ok(Item::Fn(f)) => f.sig.ident.span(),
        Ok(other) => item_name_span(&other),
        Err(_) => match syn::parse2::<ImplItemFn>(item.clone()) {
            Ok(f) => f.sig.ident.span(),
            Err(_) => Span::call_site(),
        },
    };
    let e = syn::Error::new(
        span,
        format!(
            "{} marks a method of an impl block that carries #[aitp::agent]: put \
             `#[aitp::agent]` on the impl block (`#[aitp::agent] impl MyAgent {{ ... }}`)",
            kind.attr()
        ),
    );
    let mut out = e.into_compile_error();
    out.extend(item);
    out
}
