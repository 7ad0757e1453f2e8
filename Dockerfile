FROM python:3.11-slim
WORKDIR /app
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 APP_ENV=production
COPY pyproject.toml README.md ./
COPY backend backend
COPY miniprogram_api miniprogram_api
COPY notifications notifications
COPY jobs jobs
COPY bench bench
COPY migrations migrations
RUN pip install --no-cache-dir -e . && useradd --system --home /app member && chown -R member /app
USER member
EXPOSE 8000
# Run `python -m backend migrate` once per release (a job or init container) before starting the servers.
CMD ["python", "-m", "backend", "serve", "--host", "0.0.0.0", "--port", "8000", "--workers", "2"]
