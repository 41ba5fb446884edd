/* wxsim stand-in for WeChat's jweixin-1.6.0.js: wx.config (with a real signature check against the
 * simulator), wx.ready / wx.error, and a working <wx-open-subscribe> open tag whose popup makes the
 * simulator push subscribe_msg_popup_event (PopupScene 1) to the account's server URL. */
(function () {
  "use strict";
  var SIM = new URL(document.currentScript.src).origin;
  var state = { config: null, ok: false, failed: null, readyFns: [], errorFns: [] };

  function post(action, data) {
    return fetch(SIM + "/_sim/jssdk/" + action, {
      method: "POST", credentials: "include",
      headers: { "Content-Type": "application/json" }, body: JSON.stringify(data)
    }).then(function (r) { return r.json(); });
  }

  var wx = {
    config: function (cfg) {
      state.config = cfg;
      post("config", {
        appId: cfg.appId, timestamp: cfg.timestamp, nonceStr: cfg.nonceStr,
        signature: cfg.signature, url: location.href.split("#")[0]
      }).then(function (res) {
        if (res.errMsg === "config:ok") {
          state.ok = true;
          state.readyFns.splice(0).forEach(function (f) { f(); });
        } else {
          state.failed = res;
          state.errorFns.forEach(function (f) { f(res); });
        }
      });
    },
    ready: function (fn) { if (state.ok) { fn(); } else { state.readyFns.push(fn); } },
    error: function (fn) { if (state.failed) { fn(state.failed); } else { state.errorFns.push(fn); } },
    __wxsim: state
  };
  window.wx = window.jWeixin = wx;

  function fail(el, code) {
    el.dispatchEvent(new CustomEvent("error", { detail: { errMsg: "subscribe:fail", errCode: code } }));
  }

  function popup(el, info) {
    var overlay = document.createElement("div");
    overlay.setAttribute("data-wxsim", "subscribe-popup");
    overlay.setAttribute("role", "dialog");
    overlay.style.cssText = "position:fixed;inset:0;background:rgba(0,0,0,.5);display:flex;align-items:flex-end;z-index:99999;font-family:sans-serif";
    var rows = info.templates.map(function (t) {
      return '<label style="display:flex;justify-content:space-between;padding:12px 0;border-bottom:1px solid #eee">' +
        '<span>' + t.title.replace(/[<&]/g, "") + '</span><input type="checkbox" checked data-template="' + t.id + '"></label>';
    }).join("");
    overlay.innerHTML = '<div style="background:#fff;width:100%;border-radius:12px 12px 0 0;padding:16px 20px">' +
      '<div style="font-weight:600;margin-bottom:8px">' + info.name.replace(/[<&]/g, "") + ' 申请向你发送以下订阅消息</div>' + rows +
      '<div style="display:flex;gap:12px;margin-top:16px"><button data-answer="cancel" style="flex:1;padding:10px">取消</button>' +
      '<button data-answer="allow" style="flex:1;padding:10px;background:#07c160;color:#fff;border:0;border-radius:6px">允许</button></div></div>';
    document.body.appendChild(overlay);
    overlay.addEventListener("click", function (event) {
      var answer = event.target.getAttribute && event.target.getAttribute("data-answer");
      if (!answer) { return; }
      var choices = {};
      overlay.querySelectorAll("input[data-template]").forEach(function (box) {
        choices[box.getAttribute("data-template")] = answer === "allow" && box.checked ? "accept" : "reject";
      });
      overlay.remove();
      if (answer === "cancel") {
        var cancelled = {};
        Object.keys(choices).forEach(function (k) { cancelled[k] = JSON.stringify({ status: "cancel" }); });
        el.dispatchEvent(new CustomEvent("success", { detail: { errMsg: "subscribe:ok", subscribeDetails: JSON.stringify(cancelled) } }));
        return;
      }
      // Who the patient is: the simulator's cookie (sent when the page is on the same host); the
      // cookie's value read here is the fallback for browsers that do not send it cross-origin.
      var known = (document.cookie.match(/(?:^|;\s*)wxsim_openid=([^;]+)/) || [])[1] || "";
      post("subscribe", { appId: state.config.appId, choices: choices, openid: decodeURIComponent(known) }).then(function (res) {
        if (res.errMsg === "subscribe:ok") {
          el.dispatchEvent(new CustomEvent("success", { detail: res }));
        } else { fail(el, res.errCode || 10002); }
      }, function () { fail(el, 10002); });
    });
  }

  class WxOpenSubscribe extends HTMLElement {
    connectedCallback() {
      if (this.shadowRoot) { return; }
      this.attachShadow({ mode: "open" });
      this.addEventListener("click", this.open.bind(this));
      // The tag is upgraded when its start tag is parsed; its template child may not exist yet.
      if (document.readyState === "loading") {
        document.addEventListener("DOMContentLoaded", this.render.bind(this));
      } else {
        this.render();
      }
    }
    render() {
      var template = this.querySelector('script[type="text/wxtag-template"]');
      this.shadowRoot.innerHTML = template ? template.textContent : "<button>订阅</button>";
    }
    open() {
      var el = this;
      if (!state.ok) { fail(el, 10004); return; }
      if ((state.config.openTagList || []).indexOf("wx-open-subscribe") < 0) { fail(el, 10004); return; }
      var ids = (el.getAttribute("template") || "").split(",").map(function (s) { return s.trim(); }).filter(Boolean);
      if (!ids.length) { fail(el, 10001); return; }
      post("templates", { appId: state.config.appId, ids: ids }).then(function (info) {
        if (info.errMsg !== "ok") { fail(el, info.errCode); return; }
        popup(el, info);
      }, function () { fail(el, 10002); });
    }
  }
  if (!customElements.get("wx-open-subscribe")) { customElements.define("wx-open-subscribe", WxOpenSubscribe); }
})();
