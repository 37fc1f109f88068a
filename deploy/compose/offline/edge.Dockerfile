# Stands in for nginx:1.27-alpine on a registry-less engine: Debian's nginx (in
# matchcast-services), which includes /etc/nginx/conf.d/*.conf as the official image does, with
# its own default site removed, logs to the container's output, and wget for the health check.
FROM matchcast-services:bookworm
RUN rm -f /etc/nginx/sites-enabled/default \
 && ln -sf /dev/stdout /var/log/nginx/access.log \
 && ln -sf /dev/stderr /var/log/nginx/error.log
EXPOSE 8080
STOPSIGNAL SIGQUIT
CMD ["nginx", "-g", "daemon off;"]
