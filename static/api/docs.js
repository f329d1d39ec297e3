// The API docs page: Swagger UI on the app's own OpenAPI document. A file of its
// own, as the Content-Security-Policy allows no inline script.
(function () {
  const root = document.getElementById("swagger-ui");
  window.ui = SwaggerUIBundle({
    url: root.dataset.document,
    domNode: root,
    deepLinking: true,
    // Try it out sends real requests with the token typed in Authorize.
    persistAuthorization: false,
  });
})();
