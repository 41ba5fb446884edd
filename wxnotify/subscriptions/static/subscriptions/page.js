// The patient page: configure WeChat's JS-SDK, react to the subscribe button, show what the patient can
// now receive. Its data comes from the <script type="application/json" id="page-config"> block: the
// Content-Security-Policy runs no inline script.
(function () {
  "use strict";
  var config = JSON.parse(document.getElementById("page-config").textContent);
  var result = document.getElementById("result");

  function show(data) {
    var lines = data.templates.filter(function (t) { return t.can_receive; }).map(function (t) {
      return t.title + (t.long_term ? "（长期）" : "（可接收 " + t.credits + " 次）");
    });
    if (lines.length) {
      result.textContent = "已订阅：" + lines.join("、") + "。我们会在" + config.when + "前后通过微信通知你。";
      result.className = "result ok";
    }
  }

  function refresh(tries) {
    fetch(config.statusUrl, {credentials: "same-origin"}).then(function (r) { return r.json(); }).then(function (data) {
      show(data);
      if (tries > 0 && !data.templates.some(function (t) { return t.can_receive; })) {
        setTimeout(function () { refresh(tries - 1); }, 500);
      }
    });
  }

  var sdk = config.jssdk;
  wx.config({appId: sdk.appId, timestamp: sdk.timestamp, nonceStr: sdk.nonceStr, signature: sdk.signature,
             jsApiList: [], openTagList: ["wx-open-subscribe"]});
  wx.ready(function () { document.body.dataset.wxReady = "yes"; refresh(0); });
  wx.error(function () { result.textContent = "微信组件加载失败，请稍后重试。"; result.className = "result warn"; });

  var tag = document.getElementById("subscribe-tag");
  if (tag) {
    tag.addEventListener("success", function (e) {
      var details = {};
      try { details = JSON.parse(e.detail.subscribeDetails || "{}"); } catch (err) { details = {}; }
      var accepted = Object.keys(details).some(function (k) { return String(details[k]).indexOf("accept") >= 0; });
      if (accepted) { result.textContent = "订阅成功，正在确认……"; refresh(10); }
      else { result.textContent = "你没有订阅，可以随时再点按钮订阅。"; result.className = "result"; }
    });
    tag.addEventListener("error", function (e) {
      result.textContent = "订阅失败（" + (e.detail && e.detail.errCode) + "），请稍后重试。";
      result.className = "result warn";
    });
  }
})();
