// Swagger UI over the proxy's own OpenAPI document. "Try it out" calls go to
// this same origin; the Authorize button takes an API key or a bearer token,
// and the console's stored credential is used when none is given there.
(function () {
  var stored = "";
  try {
    stored = sessionStorage.getItem("tda-console-credential") || localStorage.getItem("tda-console-credential") || "";
  } catch (e) {
    stored = "";
  }
  window.ui = SwaggerUIBundle({
    url: "../openapi.json",
    dom_id: "#swagger-ui",
    deepLinking: true,
    tryItOutEnabled: false,
    validatorUrl: null,
    presets: [SwaggerUIBundle.presets.apis],
    layout: "BaseLayout",
    requestInterceptor: function (req) {
      var h = req.headers || {};
      if (stored && !h.authorization && !h.Authorization && !h["x-api-key"]) h.authorization = "Bearer " + stored;
      req.headers = h;
      return req;
    },
  });
})();
