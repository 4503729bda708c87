//! [`ParallelEnrich`]: the registration, and the async scalar function it registers.

use std::fmt;
use std::hash::{Hash, Hasher};
use std::sync::Arc;
use std::time::Duration;

use datafusion::arrow::array::ArrayRef;
use datafusion::arrow::datatypes::{DataType, Field, FieldRef};
use datafusion::common::config::ConfigOptions;
use datafusion::common::{DataFusionError, Result, ScalarValue};
use datafusion::execution::context::SessionContext;
use datafusion::logical_expr::async_udf::{AsyncScalarUDF, AsyncScalarUDFImpl};
use datafusion::logical_expr::{
    ColumnarValue, ReturnFieldArgs, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature,
    TypeSignature, Volatility,
};
use parallel_client::Client;

use crate::columns::Columns;
use crate::config::EnrichConfig;
use crate::enrich::{Call, Settings, enrich};
use crate::input::check_input_type;
use crate::options::CallOptions;

/// The default processor: the fastest and cheapest tier.
pub const DEFAULT_PROCESSOR: &str = "lite-fast";

/// The default name of the SQL function.
pub const DEFAULT_NAME: &str = "parallel_enrich";

/// The `parallel_enrich` SQL function, ready to register: the client (and so the API key and
/// base URL), the processor and the time limits every call uses.
///
/// ```no_run
/// # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
/// use datafusion::prelude::SessionContext;
/// use parallel_datafusion::ParallelEnrich;
///
/// let ctx = SessionContext::new();
/// ParallelEnrich::new(parallel_client::Client::from_env()?)
///     .processor("lite-fast")
///     .register(&ctx);
/// let df = ctx
///     .sql("SELECT parallel_enrich('Acme Corp', 'ceo_name: CEO name') AS found")
///     .await?;
/// df.show().await?;
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct ParallelEnrich {
    name: String,
    client: Client,
    processor: String,
    timeout: Option<Duration>,
    outage_tolerance: Duration,
    rows_per_call: Option<usize>,
}

impl fmt::Debug for ParallelEnrich {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The client is left out: it holds the API key.
        f.debug_struct("ParallelEnrich")
            .field("name", &self.name)
            .field("processor", &self.processor)
            .field("timeout", &self.timeout)
            .field("outage_tolerance", &self.outage_tolerance)
            .field("rows_per_call", &self.rows_per_call)
            .finish_non_exhaustive()
    }
}

impl ParallelEnrich {
    /// `parallel_enrich` over `client`, on the [`DEFAULT_PROCESSOR`], without a time limit.
    pub fn new(client: Client) -> Self {
        Self {
            name: DEFAULT_NAME.to_owned(),
            client,
            processor: DEFAULT_PROCESSOR.to_owned(),
            timeout: None,
            outage_tolerance: parallel_client::batch::BatchOptions::DEFAULT_OUTAGE_TOLERANCE,
            rows_per_call: None,
        }
    }

    /// The processor every run uses (default [`DEFAULT_PROCESSOR`]); the session setting
    /// `parallel.processor` overrides it.
    #[must_use]
    pub fn processor(mut self, processor: impl Into<String>) -> Self {
        self.processor = processor.into();
        self
    }

    /// The longest one call waits for its rows (default: no limit). Rows without a result
    /// by then come back with status `timed_out` and their `run_id`, and the query goes on;
    /// their runs keep going on the server. The session setting `parallel.timeout_seconds`
    /// overrides it.
    #[must_use]
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }

    /// How long a call rides out a failing API (connection errors, 429, 5xx) before the
    /// query fails (default ten minutes: the batch engine's
    /// [`outage_tolerance`](parallel_client::batch::BatchOptions::outage_tolerance)).
    #[must_use]
    pub fn outage_tolerance(mut self, tolerance: Duration) -> Self {
        self.outage_tolerance = tolerance;
        self
    }

    /// The most rows one call sends as one batch (one task group). By default a call takes
    /// a whole record batch (the session's `datafusion.execution.batch_size`, 8,192 rows by
    /// default).
    #[must_use]
    pub fn rows_per_call(mut self, rows: usize) -> Self {
        self.rows_per_call = Some(rows.max(1));
        self
    }

    /// The SQL name of the function (default [`DEFAULT_NAME`]).
    #[must_use]
    pub fn name(mut self, name: impl Into<String>) -> Self {
        self.name = name.into();
        self
    }

    /// Creates an empty task group for one query, with this registration's client: run the
    /// query with `'group=<id>'` as the third argument of each `parallel_enrich`, so that
    /// its plan carries the group to every executor. Every call then adds its rows to that
    /// group, tagged with a token derived from the rows it sends, and a call the engine runs
    /// again (an executor lost, a task retried) finds its runs there and creates none.
    ///
    /// ```no_run
    /// # async fn demo(enrich: parallel_datafusion::ParallelEnrich,
    /// #     ctx: datafusion::prelude::SessionContext) -> Result<(), Box<dyn std::error::Error>> {
    /// let group = enrich.create_group().await?;
    /// let sql = format!(
    ///     "SELECT name, parallel_enrich(name, 'ceo: CEO name', 'group={group}') AS found \
    ///      FROM companies"
    /// );
    /// ctx.sql(&sql).await?.collect().await?;
    /// # Ok(()) }
    /// ```
    pub async fn create_group(&self) -> Result<String, parallel_client::Error> {
        let group = self
            .client
            .create_group(parallel_types::CreateTaskGroupRequest::new())
            .await?;
        Ok(group.taskgroup_id)
    }

    /// The function, to register with [`SessionContext::register_udf`] or a
    /// `FunctionRegistry` of your own.
    pub fn into_udf(self) -> ScalarUDF {
        let function = EnrichFunction {
            settings: Arc::new(Settings {
                client: self.client,
                processor: self.processor,
                timeout: self.timeout,
                outage_tolerance: self.outage_tolerance,
            }),
            name: self.name,
            rows_per_call: self.rows_per_call,
            // `(input, columns)`, `(input, columns, options)` or `(input, columns, options,
            // key)`.
            signature: Signature::one_of(
                vec![
                    TypeSignature::Any(2),
                    TypeSignature::Any(3),
                    TypeSignature::Any(4),
                ],
                Volatility::Volatile,
            ),
        };
        AsyncScalarUDF::new(Arc::new(function)).into_scalar_udf()
    }

    /// Registers the function with `ctx`, and the `parallel.*` session settings (see
    /// [`EnrichConfig`]) unless the session has them already.
    pub fn register(self, ctx: &SessionContext) {
        {
            let state = ctx.state_ref();
            let mut state = state.write();
            let options = state.config_mut().options_mut();
            if options.extensions.get::<EnrichConfig>().is_none() {
                options.extensions.insert(EnrichConfig::default());
            }
        }
        ctx.register_udf(self.into_udf());
    }
}

/// The registered function.
struct EnrichFunction {
    name: String,
    settings: Arc<Settings>,
    rows_per_call: Option<usize>,
    signature: Signature,
}

impl fmt::Debug for EnrichFunction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EnrichFunction")
            .field("name", &self.name)
            .field("processor", &self.settings.processor)
            .finish_non_exhaustive()
    }
}

// Two registrations are the same function when they share their settings (and client).
impl PartialEq for EnrichFunction {
    fn eq(&self, other: &Self) -> bool {
        self.name == other.name
            && Arc::ptr_eq(&self.settings, &other.settings)
            && self.rows_per_call == other.rows_per_call
    }
}

impl Eq for EnrichFunction {}

impl Hash for EnrichFunction {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.name.hash(state);
        Arc::as_ptr(&self.settings).hash(state);
    }
}

impl EnrichFunction {
    /// The output columns the second argument asks for and the options of the third;
    /// `scalars` holds each argument's value when it is a literal.
    fn call(&self, scalars: &[Option<&ScalarValue>]) -> Result<(Columns, CallOptions)> {
        let name = &self.name;
        let literal = |index: usize| {
            scalars
                .get(index)
                .copied()
                .flatten()
                .and_then(|s| s.try_as_str().flatten())
        };
        let text = literal(1).ok_or_else(|| {
            DataFusionError::Plan(format!(
                "the second argument of {name} must be a string literal naming the output \
                 columns, such as 'ceo_name: CEO name, founded (integer): year founded'"
            ))
        })?;
        let options = if scalars.len() > 2 {
            let options = literal(2).ok_or_else(|| {
                DataFusionError::Plan(format!(
                    "the third argument of {name}, if any, must be a string literal such as \
                     'basis'"
                ))
            })?;
            CallOptions::parse(options)
                .map_err(|why| DataFusionError::Plan(format!("{name}: {why}")))?
        } else {
            CallOptions::default()
        };
        let columns = Columns::parse(text, options.basis).map_err(|why| {
            DataFusionError::Plan(format!("{name}: the output columns {text:?}: {why}"))
        })?;
        Ok((columns, options))
    }
}

impl ScalarUDFImpl for EnrichFunction {
    fn name(&self) -> &str {
        &self.name
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Err(DataFusionError::Internal(format!(
            "{}: the return type comes from return_field_from_args",
            self.name
        )))
    }

    fn return_field_from_args(&self, args: ReturnFieldArgs<'_>) -> Result<FieldRef> {
        if let Some(input) = args.arg_fields.first() {
            check_input_type(input.data_type())
                .map_err(|why| DataFusionError::Plan(format!("{}: {why}", self.name)))?;
        }
        if let Some(key) = args.arg_fields.get(3) {
            parallel_arrow::check_json_type(key.data_type()).map_err(|why| {
                DataFusionError::Plan(format!(
                    "{}: the fourth argument, the row key, cannot be read: {why}",
                    self.name
                ))
            })?;
        }
        let (columns, _) = self.call(args.scalar_arguments)?;
        Ok(Arc::new(Field::new(&self.name, columns.data_type(), true)))
    }

    fn invoke_with_args(&self, _args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        Err(DataFusionError::Internal(format!(
            "{} is an async function and runs in an AsyncFuncExec",
            self.name
        )))
    }
}

#[async_trait::async_trait]
impl AsyncScalarUDFImpl for EnrichFunction {
    fn ideal_batch_size(&self) -> Option<usize> {
        self.rows_per_call
    }

    async fn invoke_async_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let scalars: Vec<Option<&ScalarValue>> = args
            .args
            .iter()
            .map(|arg| match arg {
                ColumnarValue::Scalar(value) => Some(value),
                ColumnarValue::Array(_) => None,
            })
            .collect();
        let (columns, options) = self.call(&scalars)?;
        let input: ArrayRef = match args.args.first() {
            Some(value) => value.to_array(args.number_rows)?,
            None => {
                return Err(DataFusionError::Plan(format!(
                    "{} takes two arguments: the input and the output columns",
                    self.name
                )));
            }
        };
        let key = match args.args.get(3) {
            Some(key) => Some(key.to_array(args.number_rows)?),
            None => None,
        };
        let settings = self.settings.with_session(&args.config_options);
        let call = Call {
            columns: &columns,
            options: &options,
            key: key.as_ref(),
        };
        let result = enrich(&settings, &call, &input).await?;
        Ok(ColumnarValue::Array(result))
    }
}

impl Settings {
    /// These settings, with those the session sets (`SET parallel.processor = ...`).
    fn with_session(self: &Arc<Self>, options: &ConfigOptions) -> Arc<Settings> {
        let Some(session) = options.extensions.get::<EnrichConfig>() else {
            return Arc::clone(self);
        };
        if session.processor.is_none() && session.timeout_seconds.is_none() {
            return Arc::clone(self);
        }
        let mut settings = Settings::clone(self);
        if let Some(processor) = &session.processor {
            settings.processor.clone_from(processor);
        }
        if let Some(seconds) = session.timeout_seconds {
            settings.timeout = Some(Duration::from_secs(seconds));
        }
        Arc::new(settings)
    }
}
